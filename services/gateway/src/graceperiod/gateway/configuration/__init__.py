"""Settings: the global notification address, the AWS account roles and their access probes."""
