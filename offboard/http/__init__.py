"""The Gcore IAM client: requests through the limiter, retries, connections, the user list."""
