#!/usr/bin/env bash
# Cleans up after a harness whose owner process died without stopping it
# (Ctrl-C, kill -9, a crashed test run): once OWNER_PID is gone, every PID
# listed in PIDFILE is killed, WORKDIR/cleanup.sh (if the harness left one, e.g.
# to remove a network namespace) runs, and WORKDIR is removed.
set -u
owner="$1" pidfile="$2" workdir="$3"
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
if [ -f "$pidfile" ]; then
  while read -r pid; do kill -TERM "$pid" 2>/dev/null; done < "$pidfile"
  sleep 2
  while read -r pid; do kill -KILL "$pid" 2>/dev/null; done < "$pidfile"
fi
[ -f "$workdir/cleanup.sh" ] && bash "$workdir/cleanup.sh"
rm -rf "$workdir"
