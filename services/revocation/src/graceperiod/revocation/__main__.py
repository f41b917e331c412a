from graceperiod.revocation.app import main

main()
