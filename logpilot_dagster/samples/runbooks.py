"""A dozen Markdown runbooks for the sample's failure modes: the default install's knowledge base.

`write_runbooks` puts them in `$LOGPILOT_HOME/runbooks/`; the `runbook_index` asset chunks them by heading
into the vector index, and `logpilot ask "how do I fix …"` cites them. An existing file is never overwritten
(an operator may have edited it).
"""

from __future__ import annotations

from pathlib import Path

RUNBOOKS: dict[str, str] = {
    "libvirt-guest-start-failure.md": """# Libvirt guest fails to start (nova)

Applies to: nova (Cloud Infrastructure). Log lines: "Failed to start libvirt guest: internal error: process
exited while connecting to monitor", "Instance failed to spawn", "Unable to connect to libvirt".

## Symptoms
Instances stay in BUILD or go to ERROR; nova-compute logs that the libvirt guest could not start or that the
instance failed to spawn. The QEMU process exits while libvirt connects to its monitor socket.

## Diagnosis
1. Read `/var/log/libvirt/qemu/instance-*.log` on the compute host for the QEMU error (missing image, bad CPU
   model, permission denied on the disk file, hugepages exhausted).
2. Check that libvirtd is running: `systemctl status libvirtd`; "Unable to connect to libvirt" with
   `libvirt-sock: No such file or directory` means the daemon is down.
3. Check free memory and hugepages on the host (`free -m`, `/proc/meminfo`).

## Fix
Restart libvirtd (`systemctl restart libvirtd`), then nova-compute. If the disk image is corrupt, rebuild
the instance from its image. If the CPU model is not supported, set `cpu_mode = host-model` in nova.conf.
Retry the boot with `openstack server reboot --hard`.

## Escalation
Page cloud-platform@acme-corp.com when more than one compute host is affected.
""",
    "oom-killer.md": """# Out of memory: the kernel OOM killer killed a process (syslog)

Applies to: syslog hosts (IT Operations). Log line: "Out of memory: Killed process <pid> (java) total-vm:…".

## Symptoms
A service dies without its own error; the kernel log says "Out of memory: Killed process". Monit may have
warned first that memory usage matched its resource limit.

## Diagnosis
1. `dmesg -T | grep -i oom` shows which process was killed and its resident memory (anon-rss).
2. Compare the process's memory limit (JVM `-Xmx`, container limit, systemd `MemoryMax`) with the host's RAM.
3. Look for a leak: memory growing steadily in the days before the kill.

## Fix
Restart the killed service. Lower its heap or cache sizes, or raise the host's memory. Set
`oom_score_adj` so that critical daemons (postgres) are not the ones killed. Add swap only as a stop-gap.

## Prevention
Alert on memory usage above 80% (monit) before the OOM killer acts.
""",
    "connection-pool-exhaustion.md": """# Database connection pool exhausted

Applies to: billing (Finance Engineering), app_json inventory. Log lines: "Ledger database connection pool
exhausted; halting payment processing", "HikariPool-1 - Connection is not available, request timed out",
"Connection pool orders-db at 50/50 connections".

## Symptoms
Requests wait for a connection and time out; the billing service halts payment processing.

## Diagnosis
1. Check active connections on the database (`SELECT count(*) FROM pg_stat_activity`).
2. Look for long-running transactions or leaked connections that are never returned to the pool.
3. Check whether the database itself is reachable (connection refused means the primary is down).

## Fix
Kill long-running idle-in-transaction sessions. Restart the service to release leaked connections. Raise
`maximumPoolSize` only if the database has capacity. If the primary is down, fail over to the replica.

## Escalation
Billing is critical: page billing-oncall@acme-corp.com at once.
""",
    "etl-stage-failure.md": """# ETL pipeline or scheduled job failed at a stage

Applies to: AnalyticsEngine (Data & Analytics), app_json scheduler. Log lines: "ETL pipeline crm_daily failed
at stage "load", downstream reports are stale", "Job nightly-settlement run … failed at step transform:
retries exhausted".

## Symptoms
Reports are stale; a pipeline stops at extract, dedupe, transform or load.

## Diagnosis
1. Find the failed run and stage in the scheduler; read the task log for the first error.
2. Extract failures: the source system or its credentials. Load failures: warehouse disk space or locks.
3. Dedupe failures: duplicate keys from a source that re-sent data.

## Fix
Fix the cause, then re-run the failed stage only (stages are idempotent). Tell report owners when the data
will be fresh again.
""",
    "certificate-expiry.md": """# TLS certificate expired or about to expire

Applies to: apache, ThirdPartyAPI, legacy_crm. Log lines: "SSL certificate expired", "API key for partner …
expires on …", "support for TLS 1.0 connections ends".

## Symptoms
Clients fail the TLS handshake; browsers warn about an expired certificate; partner calls are rejected.

## Diagnosis
Check the expiry date: `openssl s_client -connect host:443 | openssl x509 -noout -enddate`.

## Fix
Renew the certificate (ACME: `certbot renew`), install the new chain, reload Apache
(`apachectl graceful`). Rotate partner API keys before they expire and move clients off TLS 1.0.

## Prevention
Monitor expiry dates and renew 30 days ahead.
""",
    "ssh-brute-force.md": """# SSH brute-force attempts and failed logins

Applies to: syslog hosts (IT Operations). Log lines: "Failed password for invalid user admin from …",
"Invalid user … from …", "maximum authentication attempts exceeded for root", "UFW BLOCK".

## Symptoms
Many failed SSH logins from a few addresses, often for invalid users such as admin, oracle or test.

## Diagnosis
Count failures per source address: `grep "Failed password" /var/log/auth.log | awk '{print $(NF-3)}' |
sort | uniq -c | sort -rn`.

## Fix
Block the addresses at the firewall (ufw deny from ADDRESS), enable fail2ban, disable password
authentication (`PasswordAuthentication no`) and root login (`PermitRootLogin no`).

## Escalation
A successful login after many failures is a security incident: call the security team.
""",
    "payment-gateway-failures.md": """# Payment failures and gateway timeouts

Applies to: billing, BillingSystem (Finance). Log lines: "Payment failed for invoice …: gateway timeout",
"Payment gateway returned card_declined for invoice …", "Gateway responded with code 502".

## Symptoms
Payments fail; invoices stay unpaid; the dunning workflow starts.

## Diagnosis
Declines (card declined, insufficient funds) are the customer's and need no action. Timeouts and 5xx codes
are the gateway's: check the provider's status page and the gateway latency.

## Fix
For gateway outages, pause the retry job and retry the failed invoices once the gateway recovers. Check that
the dunning workflow has a payment method on file for each account it stopped on.
""",
    "amqp-rabbitmq-unreachable.md": """# AMQP server unreachable (RabbitMQ)

Applies to: nova. Log line: "AMQP server on … is unreachable: [Errno 111] ECONNREFUSED. Trying again".

## Symptoms
Nova services cannot reach the message bus; instance operations hang.

## Diagnosis
`rabbitmqctl cluster_status` on the broker nodes; check the port (5672) and disk/memory alarms.

## Fix
Restart the RabbitMQ node that is down, clear memory or disk alarms, then restart nova-conductor and
nova-compute if they do not reconnect by themselves.
""",
    "disk-filesystem-errors.md": """# Disk full or filesystem errors

Applies to: syslog hosts, AnalyticsEngine warehouse nodes. Log lines: "EXT4-fs error (device sda1)",
"Disk usage on warehouse node … at 95%", "SMART Usage Attribute: 194 Temperature_Celsius changed".

## Symptoms
Writes fail, services crash, or the kernel remounts a filesystem read-only.

## Diagnosis
`df -h` for space, `dmesg` for EXT4 errors, `smartctl -a /dev/sda` for the disk's health.

## Fix
Free space (rotate logs, remove old snapshots). For EXT4 errors, schedule `fsck` on the next reboot and
replace a disk that reports SMART failures.
""",
    "kafka-producer-timeouts.md": """# Kafka producer timeouts and fenced producers

Applies to: billing, app_json checkout. Log lines: "Failed to publish event … to topic billing-events",
"Expiring 1 record(s) for billing-events", "Kafka producer for topic orders was fenced".

## Symptoms
Events are not published; a producer shuts down to avoid duplicate writes.

## Diagnosis
Check broker health and the topic's partition leaders; look for a second instance with the same
transactional id (fencing).

## Fix
Restart the producer once the brokers are healthy; make sure each instance has its own transactional id.
""",
    "escalation-inactive-agent.md": """# Ticket escalation failed: agent inactive (CRM)

Applies to: legacy_crm, ModernCRM (Sales Operations). Log lines: "Case escalation for ticket ID … failed
because the assigned support agent is no longer active", "Escalation of ticket #… FAILED - agent inactive".

## Symptoms
Escalations fail for tickets assigned to agents who left or were deactivated.

## Fix
Reassign the agent's open tickets to a queue (CRM admin: Users, Deactivated, Reassign), then retry the
escalations. Make offboarding reassign tickets automatically.
""",
    "service-crash-restart.md": """# A systemd service exited with a failure

Applies to: syslog hosts. Log lines: "nginx.service: Main process exited, code=exited, status=1/FAILURE",
"Failed with result 'exit-code'".

## Symptoms
A service (nginx, postgresql, redis-server, docker, haproxy) stops and systemd reports the failure.

## Diagnosis
`journalctl -u SERVICE -n 100` shows why it exited; `systemctl status SERVICE` shows restarts.

## Fix
Fix the configuration error the journal names (test it first: `nginx -t`), then
`systemctl restart SERVICE`. Add `Restart=on-failure` to the unit if the crash is transient.
""",
}


def write_runbooks(folder: Path) -> list[Path]:
    """The sample runbooks, written into `folder`; a file already there is kept as it is."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in RUNBOOKS.items():
        path = folder / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
