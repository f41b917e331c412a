"""The development kit: never imported by services. One subpackage per user:

* ``testkit`` — what the tests import: fixtures, fakes, tokens, sample payloads, upstream publishers;
* ``local`` — the stack behind ``make run|stop|status|demo|docs``;
* ``servers`` — private RabbitMQ / FerretDB / SMTP sink / AWS and Azure endpoint processes, shared by all;
* ``aws_endpoint`` — the AWS emulator; ``azure_endpoint`` — the Azure emulator (Entra ID tokens, ARM Reservations);
* ``bench`` (``make bench``), ``chaos`` (``make chaos``), ``screenshots`` (``make screenshots``).
"""
