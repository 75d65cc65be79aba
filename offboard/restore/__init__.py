"""`offboard restore`: give back the access a run removed."""
