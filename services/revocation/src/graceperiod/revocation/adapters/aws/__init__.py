"""Every AWS call the revocation service makes, through aioboto3, one module per AWS product
or concern: ``sessions`` (credentials, clients, the one ``call``), ``commitments`` (Savings
Plans, EC2 and reserved-node reads and undos), ``support`` (cases), ``probes`` (side-effect-free
permission checks), ``wire`` (AWS's replies and errors), and ``accounts`` (all of them, for the
service)."""
