from graceperiod.gateway.app import main

main()
