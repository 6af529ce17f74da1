#!/usr/bin/env bash
# A throw-away single-node SLURM cluster (with accounting) for tests: everything lives in one folder, every daemon is
# started in the foreground under nohup so that its PID is known, and `stop` kills exactly those PIDs.
#
#   tests/slurm_cluster.sh install        # Debian packages (root, apt): slurmctld slurmd slurm-client munge slurmdbd mariadb-server
#   tests/slurm_cluster.sh start DIR      # start munged, mariadbd, slurmdbd, slurmctld, slurmd; prints `export SLURM_CONF=DIR/slurm.conf`
#   tests/slurm_cluster.sh stop DIR       # stop the daemons started by `start DIR` (by PID), newest first
#
# Verified facts this follows: ../shared/notes/slurm-single-node.md (no systemd: nothing is started by the packages;
# /run/munge must be made; sacct needs slurmdbd, else cancelled jobs never read as finished to submitit).
set -euo pipefail
cmd=${1:-}; dir=${2:-}
need() { command -v "$1" >/dev/null || { echo "slurm_cluster: $1 not found (run: $0 install)" >&2; exit 3; }; }
wait_for() {  # wait_for SECONDS COMMAND...: retry COMMAND until it succeeds
  local t=$1; shift
  for _ in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "slurm_cluster: timed out waiting for: $*" >&2; return 1
}

case "$cmd" in
install)
  [ "$(id -u)" = 0 ] || { echo "slurm_cluster: install needs root" >&2; exit 3; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd mariadb-server >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd mariadb-server >/dev/null; }
  ;;
start)
  [ -n "$dir" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "slurm_cluster: start needs root (slurmd runs jobs as their user)" >&2; exit 3; }
  for b in munged slurmctld slurmd slurmdbd sacctmgr mariadbd mariadb-install-db sbatch; do need $b; done
  mkdir -p "$dir"/{state,spool,log,db}; dir=$(cd "$dir" && pwd)
  host=$(hostname -s)
  getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >> /etc/hosts
  # munge: its socket folder is made by systemd elsewhere; it runs as the munge user
  mkdir -p /run/munge && chown munge:munge /run/munge
  [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  if ! munge -n </dev/null >/dev/null 2>&1; then
    nohup setpriv --reuid=munge --regid=munge --init-groups munged -F > "$dir/log/munged.log" 2>&1 &
    echo $! > "$dir/munged.pid"; wait_for 10 munge -n
  fi
  # accounting: MariaDB on a private socket and port, then slurmdbd
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dbdport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ctlport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mariadb-install-db --user=root --datadir="$dir/db" > "$dir/log/mariadb-install.log" 2>&1
  nohup mariadbd --no-defaults --user=root --datadir="$dir/db" --socket="$dir/mysqld.sock" --bind-address=127.0.0.1 \
    --port="$port" --skip-log-bin --innodb-use-native-aio=0 --pid-file="$dir/mariadbd.pidfile" > "$dir/log/mariadbd.log" 2>&1 &
  echo $! > "$dir/mariadbd.pid"
  wait_for 30 mariadb --socket="$dir/mysqld.sock" -uroot -e 'select 1'
  mariadb --socket="$dir/mysqld.sock" -uroot -e "create user if not exists 'slurm'@'localhost' identified by 'slurm';
    grant all on slurm_acct_db.* to 'slurm'@'localhost'; flush privileges;"
  cat > "$dir/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$dbdport
SlurmUser=root
PidFile=$dir/slurmdbd.pidfile
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$port
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurm
EOF
  chmod 600 "$dir/slurmdbd.conf"
  cpus=$(nproc); mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  cat > "$dir/slurm.conf" <<EOF
ClusterName=vlabtest
SlurmctldHost=$host
SlurmctldPort=$ctlport
SlurmdPort=$dport
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbdport
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1,bf_interval=1,batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  nohup slurmdbd -D > "$dir/log/slurmdbd.out" 2>&1 &
  echo $! > "$dir/slurmdbd.pid"
  wait_for 30 sacctmgr -n list cluster
  sacctmgr -i add cluster vlabtest >/dev/null 2>&1 || true
  nohup slurmctld -D -f "$SLURM_CONF" > "$dir/log/slurmctld.out" 2>&1 &
  echo $! > "$dir/slurmctld.pid"
  wait_for 30 scontrol ping
  nohup slurmd -D -f "$SLURM_CONF" > "$dir/log/slurmd.out" 2>&1 &
  echo $! > "$dir/slurmd.pid"
  wait_for 30 bash -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
  echo "export SLURM_CONF=$SLURM_CONF"
  ;;
stop)
  [ -n "$dir" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
  for d in slurmd slurmctld slurmdbd mariadbd munged; do
    f="$dir/$d.pid"; [ -f "$f" ] || continue
    pid=$(cat "$f"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true; rm -f "$f"
  done
  ;;
*) echo "usage: $0 {install|start DIR|stop DIR}" >&2; exit 2 ;;
esac
