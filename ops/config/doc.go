// Package config loads and validates a node's configuration: a TOML file
// (unknown keys refused), then GATEHOUSE_* environment overrides, then
// defaults. Validate checks every file the node needs before it starts, so a
// misconfigured node fails with a reason instead of half-starting.
package config
