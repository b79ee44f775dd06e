"""Tables and plots of run directories, read from the run directories only."""
