"""Private servers as child processes (RabbitMQ, FerretDB, the SMTP sink, the AWS endpoint, Dex,
the services), shared by the test kit, the local stack, bench and chaos; and what the two cloud
emulators share (:mod:`.emulators`: their server thread and their control API's plumbing)."""
