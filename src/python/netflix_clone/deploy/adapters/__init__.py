"""AWS, Slack, Grafana and HTTP edges of the deploy tooling."""
