"""Release engineering: semantic versions and changelogs from Conventional Commits, branch protection as code."""
