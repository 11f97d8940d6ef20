"""The platform end to end on one machine: the composition root that drives the services' public CLIs."""
