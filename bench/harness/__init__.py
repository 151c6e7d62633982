"""What every benchmark shares: the entry (options, --smoke, the JSON line), the cached model, timing,
reporting, private XDG dirs, the child daemon, the Xvfb painter and /proc figures."""
