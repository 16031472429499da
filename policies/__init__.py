"""Rego policy packs and the asset checks that apply them (issue: deploy plan and readiness)."""
