"""Operator command-line tools shipped in the notifier image, installed as console scripts
(``[project.scripts]`` in services/notifier/pyproject.toml):

* ``graceperiod-keys`` (:mod:`.keys`) — create and publish the keys that sign email links.
"""
