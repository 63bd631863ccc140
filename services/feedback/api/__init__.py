"""HTTP interface of the feedback service."""
