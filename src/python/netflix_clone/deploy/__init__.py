"""Deploy tooling: ECS staging and blue-green production with analysis, rollback and post-deploy steps."""
