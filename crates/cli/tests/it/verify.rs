// Filled in with the command it tests.
