"""Every AWS call the revocation service makes, through aioboto3, one module per AWS product
or concern, on the shared sessions of :mod:`graceperiod.runtime.aws` (credentials of the
assumed roles, clients, the one ``call``, AWS's errors classified): ``commitments`` (Savings
Plans, EC2 and reserved-node reads and undos), ``support`` (cases), ``probes`` (side-effect-free
permission checks), ``wire`` (AWS's replies), and ``accounts`` (all of them, for the
service)."""
