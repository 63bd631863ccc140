"""HTTP interface of the goals service."""
