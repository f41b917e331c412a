from graceperiod.cooldown.app import main

main()
