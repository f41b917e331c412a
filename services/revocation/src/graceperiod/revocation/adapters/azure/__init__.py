"""Every Azure call the revocation service makes, through the maintained async SDK
(``azure-mgmt-reservations`` with ``azure-identity``): ``clients`` (a credential and a client per
tenant's service principal), ``reservations`` (read a reservation, quote its refund, return it
and follow the long-running return), ``wire`` (Azure's errors and amounts) and ``rbac`` (the
Microsoft.Capacity action of every SDK call used)."""
