"""MongoDB (database ``graceperiod_revocation``): the only code that touches PyMongo.

Records (``domain/records.py``) are written whole with ``graceperiod.runtime.mongo.to_document``
and read back with ``model_validate``; nothing but records and typed values crosses this
package's boundary. Every state change is one conditional single-document write (FerretDB has
no transactions): a purchase or an account is replaced only if its ``version`` is still the
one read. The events a change emits are written into the same purchase document (``outbox``)
before they are published, so a crash between the write and the publish loses nothing.

Collections: ``purchases`` (``purchases.py``), ``purchase_listing`` (the History's copy of
each purchase, ``listing.py``), ``accounts`` (``accounts.py``), ``commands``
(idempotency keys) and ``claims`` (``commands.py``), ``commitments`` (which purchase each
commitment is) and ``aliases`` (``commitments.py``).
"""
