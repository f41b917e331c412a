"""The local stack behind ``make run|stop|status|demo|docs`` (``python -m graceperiod.devstack.local``)."""
