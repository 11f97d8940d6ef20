"""Every environment variable the deploy pex reads, with its default and meaning (README table).

The GitHub workflow maps each service's secrets onto these names (``deploy.yml``). Variables owned by
others and read where they are used: ``AWS_*`` credentials and ``AWS_DEFAULT_REGION`` (boto3), and
``GITHUB_RUN_ID``/``GITHUB_RUN_ATTEMPT``/``GITHUB_JOB`` (GitHub Actions; they name the lock's owner).
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from netflix_clone.platform.settings import LogLevel, ServiceSettings, SettingsConfigDict, shared

__all__ = ["DeploySettings"]


class DeploySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_DEPLOY_")

    # A deploy narrates its phases at INFO: that log is what CI shows.
    log_level: LogLevel = shared("NFC_LOG_LEVEL", "INFO", "log level (DEBUG, INFO, WARNING, ERROR)")
    region: Optional[str] = shared("AWS_REGION", None, "AWS region (unset: boto3's AWS_DEFAULT_REGION or profile)")
    lock_table: str = Field(
        "netflix-clone-deploys", description="DynamoDB table of the deploy locks and records (`deploy init`)"
    )
    slack_webhook: Optional[str] = Field(None, description="Slack incoming webhook (secret; redacted everywhere)")
    lb_listener_arn: Optional[str] = Field(None, description="the service's ALB listener")
    lb_rule_arn: Optional[str] = Field(
        None,
        description="listener rule(s) forwarding to the service, comma-separated (default action then untouched)",
    )
    blue_target_group_arn: Optional[str] = Field(None, description="target group of `<service>-blue`")
    green_target_group_arn: Optional[str] = Field(None, description="target group of `<service>-green`")
    staging_target_group_arn: Optional[str] = Field(None, description="staging target group (health checked)")
    staging_url: Optional[str] = Field(None, description="base URL of staging's smoke tests")
    green_test_url: Optional[str] = Field(
        None, description="base URL reaching the new colour directly (tested before any traffic moves)"
    )
    cloudfront_distribution_id: Optional[str] = Field(None, description="CloudFront distribution to invalidate")
    grafana_url: Optional[str] = Field(None, description="Grafana for dashboards and deploy annotations")
    grafana_api_key: Optional[str] = Field(None, description="Grafana API key (secret; redacted everywhere)")
