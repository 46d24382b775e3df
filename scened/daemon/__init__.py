"""The library scanner, the state database and the scheduler behind `scened run`."""
