"""The daemon and its host: the systemd unit, sd_notify, and the status file."""
