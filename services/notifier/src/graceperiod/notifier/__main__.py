from graceperiod.notifier.app import main

main()
