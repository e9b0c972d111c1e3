"""The template tables of the sample sources, and the system catalog that says who owns each system.

Wording follows what these systems really print (OpenStack nova, sshd/systemd/kernel via syslog, Apache
2.x error logs, JSON service logs, a CRM export, a legacy CRM and a Java billing service). Each template's
wording alone decides its label, so a classifier can learn the label from the text. Weights are relative
within a source; levels are printed as the source prints them.
"""

from __future__ import annotations

from logpilot_dagster.samples.templates import (
    CRITICAL_ERROR,
    DEPRECATION_WARNING,
    ERROR,
    HTTP_STATUS,
    RESOURCE_USAGE,
    SECURITY_ALERT,
    SYSTEM_NOTIFICATION,
    USER_ACTION,
    WORKFLOW_ERROR,
    Template,
    t,
)

_REQ = "[req-{uuid} - - - - -] "
_REQ_USER = "[req-{uuid} {hex32} {hex32} - default default] "
_INST = "[instance: {uuid}] "
_WSGI = "nova.osapi_compute.wsgi.server"
_MANAGER = "nova.compute.manager"

NOVA: tuple[Template, ...] = (
    t(HTTP_STATUS, "INFO", 20, _REQ_USER + '{client} "GET /v2/{hex32}/servers/detail HTTP/1.1" status: '
      '{pick:200|200|200|200|200|404|401|503} len: {int:1700-1990} time: {wsgi_time}', component=_WSGI),
    t(HTTP_STATUS, "INFO", 6, _REQ_USER + '{client} "POST /v2/{hex32}/os-server-external-events HTTP/1.1" '
      'status: {pick:200|200|200|207|400} len: {int:300-420} time: {wsgi_time}', component=_WSGI),
    t(HTTP_STATUS, "INFO", 3, _REQ_USER + '{client} "DELETE /v2/{hex32}/servers/{uuid} HTTP/1.1" status: '
      '{pick:204|204|204|404|409} len: {int:180-320} time: {wsgi_time}', component=_WSGI),
    t(SYSTEM_NOTIFICATION, "INFO", 8, _REQ + _INST + "VM Started (Lifecycle Event)", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 6, _REQ + _INST + "VM Paused (Lifecycle Event)", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 6, _REQ + _INST + "VM Resumed (Lifecycle Event)", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 5, _REQ + _INST + "VM Stopped (Lifecycle Event)", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 4, _REQ + _INST + "During sync_power_state the instance has a pending "
          "task "
      "({pick:spawning|deleting|rebooting|powering-off}). Skip.", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 5, _REQ_USER + _INST + "Took {sec} seconds to spawn the instance on the "
      "hypervisor.", component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 4, _REQ_USER + _INST + "Took {sec} seconds to build instance.",
      component=_MANAGER),
    t(SYSTEM_NOTIFICATION, "INFO", 3, _REQ_USER + _INST + "Creating image",
      component="nova.virt.libvirt.driver"),
    t(SYSTEM_NOTIFICATION, "INFO", 3, _REQ + "image {uuid} at ({file_path}): checking",
      component="nova.virt.libvirt.imagecache"),
    t(USER_ACTION, "INFO", 4, _REQ_USER + _INST + "Terminating instance", component=_MANAGER),
    t(USER_ACTION, "INFO", 2, _REQ_USER + _INST + "Rebooting instance at the request of user {user}",
      component=_MANAGER),
    t(RESOURCE_USAGE, "INFO", 5, _REQ + "Final resource view: name={host} phys_ram={int:65536-524288}MB "
      "used_ram={int:2048-400000}MB phys_disk={int:400-7000}GB used_disk={int:20-3000}GB total_vcpus="
      "{int:16-128} used_vcpus={int:0-120} pci_stats=[]", component="nova.compute.resource_tracker"),
    t(RESOURCE_USAGE, "INFO", 4, _REQ_USER + _INST + "Total memory: {int:64000-520000} MB, used: "
      "{int:512-400000}.00 MB", component="nova.compute.claims"),
    t(RESOURCE_USAGE, "INFO", 3, _REQ_USER + _INST + "vcpu limit not specified, defaulting to unlimited",
      component="nova.compute.claims"),
    t(RESOURCE_USAGE, "WARNING", 1, _REQ + "Host {host} has {int:1-4} vcpus and {int:128-2048} MB RAM left; "
      "disk_allocation_ratio exceeded", component="nova.compute.resource_tracker"),
    t(ERROR, "ERROR", 1.2, _REQ_USER + _INST + "Instance failed to spawn", component=_MANAGER),
    t(ERROR, "ERROR", 0.8, _REQ_USER + _INST + "Failed to start libvirt guest: internal error: process "
          "exited "
      "while connecting to monitor", component="nova.virt.libvirt.driver"),
    t(ERROR, "WARNING", 0.8, _REQ + "Timed out waiting for network-vif-plugged event for instance {uuid} "
      "after {int:300-600} seconds", component=_MANAGER),
    t(CRITICAL_ERROR, "CRITICAL", 0.15, "Unable to connect to libvirt: Failed to connect socket to "
      "'/var/run/libvirt/libvirt-sock': No such file or directory", component="nova.virt.libvirt.host"),
    t(CRITICAL_ERROR, "ERROR", 0.2, _REQ + "AMQP server on {fqdn_port} is unreachable: [Errno 111] "
      "ECONNREFUSED. Trying again in {int:1-32} seconds.", component="oslo.messaging._drivers.impl_rabbit"),
    t(SECURITY_ALERT, "WARNING", 0.7, _REQ_USER + "Policy check for os_compute_api:servers:{pick:delete|"
      "create:forced_host|migrate_live} failed for user {user} in project {hex32}",
      component="nova.api.openstack.wsgi"),
    t(SECURITY_ALERT, "WARNING", 0.5, "Authorization failed for token {hex32} presented from {client}",
      component="keystonemiddleware.auth_token"),
    t(DEPRECATION_WARNING, "WARNING", 0.6, 'Option "{pick:use_neutron|firewall_driver|network_api_class|'
      'vif_plugging_is_fatal}" from group "DEFAULT" is deprecated for removal. Its value may be silently '
      "ignored in the future.", component="oslo_config.cfg"),
)

SYSLOG: tuple[Template, ...] = (
    t(USER_ACTION, "info", 8, "Accepted publickey for {user} from {client} port {port} ssh2: RSA "
      "SHA256:{b64}", prog="sshd", facility=10),
    t(USER_ACTION, "info", 3, "Accepted password for {user} from {client} port {port} ssh2", prog="sshd",
      facility=10),
    t(USER_ACTION, "info", 7, "pam_unix(sshd:session): session opened for user {user}(uid={int:1000-4000}) "
          "by "
      "(uid=0)", prog="sshd", facility=10),
    t(USER_ACTION, "info", 6, "pam_unix(sshd:session): session closed for user {user}", prog="sshd",
      facility=10),
    t(USER_ACTION, "notice", 3, "  {user} : TTY=pts/{int:0-9} ; PWD=/home/{user} ; USER=root ; "
          "COMMAND=/usr/bin/"
      "systemctl restart {pick:nginx|postgresql|redis-server|docker|haproxy}", prog="sudo", facility=10,
      pid=False),
    t(USER_ACTION, "info", 4, "New session {int:1-99999} of user {user}.", prog="systemd-logind",
      facility=4),
    t(SECURITY_ALERT, "warning", 4, "Failed password for invalid user "
          "{pick:admin|oracle|test|ubuntu|postgres|"
      "git|pi|guest|support} from {client} port {port} ssh2", prog="sshd", facility=10),
    t(SECURITY_ALERT, "info", 2.5, "Invalid user {pick:admin|oracle|test|ftpuser|deploy|user1} from {client} "
      "port {port}", prog="sshd", facility=10),
    t(SECURITY_ALERT, "err", 1, "error: maximum authentication attempts exceeded for root from {client} port "
      "{port} ssh2 [preauth]", prog="sshd", facility=10),
    t(SECURITY_ALERT, "notice", 1.5, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
      "tty=ssh ruser= rhost={client}  user=root", prog="sshd", facility=10),
    t(SECURITY_ALERT, "alert", 0.4, "  {user} : 3 incorrect password attempts ; TTY=pts/{int:0-9} ; "
      "PWD=/home/{user} ; USER=root ; COMMAND=/bin/bash", prog="sudo", facility=10, pid=False),
    t(SECURITY_ALERT, "warning", 1.5, "[{uptime}] [UFW BLOCK] IN=eth0 OUT= SRC={client} DST={client} "
          "LEN={int:40-1500} "
      "TOS=0x00 TTL={int:30-250} ID={int:1-65535} PROTO=TCP SPT={port} DPT={pick:22|23|3389|445|5900|1433} "
      "WINDOW=1024 RES=0x00 SYN URGP=0", prog="kernel", facility=0, pid=False),
    t(SECURITY_ALERT, "warning", 0.3, "[{uptime}] TCP: request_sock_TCP: Possible SYN flooding on port "
          "{pick:80|443|8443}. "
      "Sending cookies.  Check SNMP counters.", prog="kernel", facility=0, pid=False),
    t(SYSTEM_NOTIFICATION, "info", 10, "({pick:root|www-data|postgres}) CMD ({pick:/usr/lib/sysstat/sa1 1 1|"
      "command -v debian-sa1 > /dev/null && debian-sa1 1 1|cd / && run-parts --report /etc/cron.hourly|"
      "/usr/local/bin/backup.sh --incremental|test -x /usr/sbin/logrotate && /usr/sbin/logrotate "
      "/etc/logrotate.conf})", prog="CRON", facility=9),
    t(SYSTEM_NOTIFICATION, "info", 4, "Started Session {int:1-99999} of User {user}.", prog="systemd",
      facility=3),
    t(SYSTEM_NOTIFICATION, "info", 3, "Starting {pick:Daily apt download activities|Cleanup of Temporary "
      "Directories|Rotate log files|Daily man-db regeneration|Discard unused blocks}...", prog="systemd",
      facility=3),
    t(SYSTEM_NOTIFICATION, "info", 3, "{pick:logrotate|apt-daily|fstrim|man-db|systemd-tmpfiles-clean}"
      ".service: Deactivated successfully.", prog="systemd", facility=3),
    t(SYSTEM_NOTIFICATION, "info", 1.5, "{hex10}: to=<{email}>, relay={fqdn}:25, delay={sec}, "
      "delays=0.01/0/0.{int:10-99}/0.{int:10-99}, dsn=2.0.0, status=sent (250 2.0.0 OK)",
      prog="postfix/smtp", facility=2),
    t(SYSTEM_NOTIFICATION, "info", 0.3, '[origin software="rsyslogd" swVersion="{version}" x-pid="{pid}" '
      'x-info="https://www.rsyslog.com"] rsyslogd was HUPed', prog="rsyslogd", facility=5, pid=False),
    t(ERROR, "err", 1.2, "{pick:nginx|postgresql|redis-server|docker|haproxy}.service: Main process exited, "
      "code=exited, status={int:1-255}/FAILURE", prog="systemd", facility=3),
    t(ERROR, "warning", 1, "{pick:nginx|postgresql|redis-server|docker|haproxy}.service: Failed with result "
      "'exit-code'.", prog="systemd", facility=3),
    t(CRITICAL_ERROR, "err", 0.3, "[{uptime}] Out of memory: Killed process {pid} "
          "({pick:java|python3|postgres|node}) "
      "total-vm:{int:100000-9000000}kB, anon-rss:{int:50000-8000000}kB, file-rss:0kB, shmem-rss:0kB, "
      "UID:{int:0-2000} pgtables:{int:200-20000}kB oom_score_adj:0", prog="kernel", facility=0, pid=False),
    t(CRITICAL_ERROR, "crit", 0.15, "[{uptime}] EXT4-fs error (device {pick:sda1|nvme0n1p2|dm-0}): "
          "ext4_find_entry:1455: "
      "inode #{int:2-9000000}: comm {pick:java|rsync|postgres}: reading directory lblock 0", prog="kernel",
      facility=0, pid=False),
    t(RESOURCE_USAGE, "warning", 2, "'{host}' mem usage of {pct} matches resource limit [mem usage > 80.0%]",
      prog="monit", facility=3),
    t(RESOURCE_USAGE, "warning", 1.5, "'{host}' cpu usage of {pct} matches resource limit [cpu usage > "
          "75.0%]",
      prog="monit", facility=3),
    t(RESOURCE_USAGE, "info", 1.5, "Device: /dev/{pick:sda|sdb|nvme0n1} [SAT], SMART Usage Attribute: 194 "
      "Temperature_Celsius changed from {int:30-45} to {int:30-55}", prog="smartd", facility=3),
    t(DEPRECATION_WARNING, "warning", 0.6, "/etc/systemd/system/{pick:app-worker|metrics-agent|legacy-sync}"
      ".service:{int:5-30}: Standard output type syslog is obsolete, automatically updating to journal. "
      "Please "
      "update your unit file, and consider removing the setting altogether.", prog="systemd", facility=3,
      pid=False),
    t(DEPRECATION_WARNING, "warning", 0.4, '[DEPRECATION NOTICE]: the "{pick:overlay|devicemapper|aufs}" '
      "storage driver is deprecated, and will be removed in a future release (daemon {version})",
      prog="dockerd", facility=3),
)

APACHE: tuple[Template, ...] = (
    t(SYSTEM_NOTIFICATION, "notice", 20, "jk2_init() Found child {int:1000-32000} in scoreboard slot "
          "{int:6-12}"),
    t(SYSTEM_NOTIFICATION, "notice", 15, "workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
    t(SYSTEM_NOTIFICATION, "notice", 0.5, "Apache/{pick:2.4.57|2.4.58|2.4.62} (Unix) OpenSSL/{pick:3.0.13|"
      "3.2.1} configured -- resuming normal operations"),
    t(SYSTEM_NOTIFICATION, "notice", 0.3, "caught SIGTERM, shutting down"),
    t(SYSTEM_NOTIFICATION, "notice", 0.4, "Digest: generating secret for digest authentication ..."),
    t(ERROR, "error", 15, "mod_jk child workerEnv in error state {int:6-7}"),
    t(ERROR, "error", 3, "jk2_init() Can't find child {int:1000-32000} in scoreboard"),
    t(ERROR, "error", 2, "mod_jk child init 1 -2"),
    t(ERROR, "error", 3, "[client {client}] File does not exist: /var/www/html/{pick:favicon.ico|robots.txt|"
      "apple-touch-icon.png|sitemap.xml}"),
    t(ERROR, "warn", 1, "[client {client}] mod_fcgid: read data timeout in {int:40-120} seconds"),
    t(SECURITY_ALERT, "error", 4, "[client {client}] Directory index forbidden by rule: /var/www/html/"),
    t(SECURITY_ALERT, "error", 1.5, "[client {client}] client denied by server configuration: "
      "/var/www/html/{pick:admin|.git/config|.env|server-status|phpmyadmin}"),
    t(SECURITY_ALERT, "error", 1, "[client {client}] user {user}: authentication failure for \"/admin\": "
      "Password Mismatch"),
    t(SECURITY_ALERT, "error", 0.6, '[client {client}] ModSecurity: Access denied with code 403 (phase 2). '
      'Pattern match "(?i:union.*select)" at ARGS:id. [id "942100"] [uri "/index.php"]'),
    t(CRITICAL_ERROR, "crit", 0.1, "(28)No space left on device: Couldn't create accept lock "
      "(/var/run/httpd/accept.lock.{int:1000-32000}) (5)"),
    t(CRITICAL_ERROR, "emerg", 0.05, "(98)Address already in use: make_sock: could not bind to address "
      "[::]:{pick:80|443}"),
    t(RESOURCE_USAGE, "error", 0.6, "server reached MaxRequestWorkers setting, consider raising the "
      "MaxRequestWorkers setting"),
    t(RESOURCE_USAGE, "warn", 0.4, "server is within MinSpareThreads of MaxRequestWorkers, consider raising "
      "the MaxRequestWorkers setting ({int:150-400} busy, {int:0-25} idle)"),
    t(DEPRECATION_WARNING, "warn", 0.4, "[client {client}] PHP Deprecated:  Function {pick:create_function|"
      "each|utf8_encode|strftime}() is deprecated in /var/www/html/{pick:index|cart|legacy/report}.php on "
      "line {int:10-900}"),
    t(DEPRECATION_WARNING, "warn", 0.2, "Directive 'SSLProtocol TLSv1' is deprecated and will be removed in "
      "Apache {pick:2.6|2.6.0}; use TLSv1.2 or later"),
)

APP_JSON: tuple[Template, ...] = (
    t(HTTP_STATUS, "info", 18, "{method} {api_path} -> {status} ({ms})", service="gateway"),
    t(HTTP_STATUS, "info", 8, "request completed method={method} path={api_path} status={status} "
      "duration={ms} bytes={int:120-90000}", service="gateway"),
    t(USER_ACTION, "info", 6, "User {email} logged in via {pick:password|sso|oauth-google|webauthn}",
      service="auth"),
    t(USER_ACTION, "info", 4, "User {email} logged out", service="auth"),
    t(USER_ACTION, "info", 3, "User {int:1000-999999} updated profile field {pick:display_name|avatar|locale|"
      "timezone|marketing_opt_in}", service="accounts"),
    t(USER_ACTION, "info", 4, "Order {order} placed by customer {customer}, total {amount} "
          "{pick:EUR|USD|GBP}",
      service="checkout"),
    t(USER_ACTION, "info", 0.8, "Payment method {card} added by customer {customer}", service="checkout"),
    t(SYSTEM_NOTIFICATION, "debug", 4, "Token refreshed for session {hex32}, expires in 3600s",
      service="auth"),
    t(SYSTEM_NOTIFICATION, "info", 4, "Job {pick:nightly-settlement|catalog-reindex|gdpr-export|email-digest|"
      "search-snapshot} run {int:1000-99999} finished in {dur} (worker version {version})",
      service="scheduler"),
    t(SYSTEM_NOTIFICATION, "info", 2.5, "Email {pick:receipt|password-reset|welcome|shipping-update} queued "
      "for {email}", service="notification"),
    t(SYSTEM_NOTIFICATION, "info", 1, "Service started on port {pick:8080|8081|9090} (build {version}, "
          "commit "
      "{hex8})", service="catalog"),
    t(SECURITY_ALERT, "warn", 2, "Multiple failed login attempts for {email} from {client} ({int:3-20} "
      "attempts in {int:1-10} minutes)", service="auth"),
    t(SECURITY_ALERT, "warn", 1.2, "Rejected JWT for subject {uuid}: signature verification failed",
      service="auth"),
    t(SECURITY_ALERT, "warn", 0.6, "Account {email} locked after repeated failed MFA challenges",
      service="auth"),
    t(ERROR, "error", 2, "Failed to reserve inventory for order {order}: upstream timeout after {ms}",
      service="checkout"),
    t(ERROR, "error", 1, "Unhandled exception in handler {pick:GET /cart|POST /checkout|GET /search}: "
      "{pick:KeyError|TypeError|ValueError} ({hex8})", service="gateway"),
    t(WORKFLOW_ERROR, "error", 1, "Saga {uuid} for order {order} stuck in state {pick:PAYMENT_PENDING|"
      "SHIPPING_REQUESTED|REFUND_REQUESTED} for {int:15-240} minutes, compensation started",
      service="checkout"),
    t(WORKFLOW_ERROR, "error", 1.2, "Job {pick:nightly-settlement|catalog-reindex|gdpr-export|email-digest} "
      "run {int:1000-99999} failed at step {pick:extract|transform|load|notify}: retries exhausted",
      service="scheduler"),
    t(RESOURCE_USAGE, "warn", 2.5, "Heap usage {pct} of {pick:512|1024|2048|4096}MB, young gen collection "
      "took {ms}", service="search"),
    t(RESOURCE_USAGE, "warn", 2, "Connection pool {pick:orders-db|catalog-db|sessions-redis} at "
      "{int:45-50}/50 connections, {int:1-40} waiting", service="inventory"),
    t(DEPRECATION_WARNING, "warn", 1.2, "Client {pick:ios-app|android-app|partner-sdk}/{version} called "
      "deprecated endpoint {api_path_v1}; it will be removed on {date}", service="gateway"),
    t(DEPRECATION_WARNING, "warn", 0.6, "Config key '{pick:cache.ttl|db.pool.size|auth.legacy_tokens}' is "
      "deprecated since {version}; use '{pick:cache.ttl_seconds|db.pool.max|auth.token_format}' instead",
      service="accounts"),
    t(CRITICAL_ERROR, "fatal", 0.2, "Lost connection to primary database {fqdn_port}; failing over to "
          "replica",
      service="inventory"),
    t(CRITICAL_ERROR, "fatal", 0.1, "Kafka producer for topic {pick:orders|payments|events} was fenced; "
      "shutting down to avoid duplicate writes", service="checkout"),
)

CRM_SYSTEMS = ("ModernCRM", "ModernHR", "BillingSystem", "AnalyticsEngine", "ThirdPartyAPI")

CRM_EXPORT: tuple[Template, ...] = (
    # ModernCRM
    t(USER_ACTION, "", 6, "User {user} logged in.", system="ModernCRM"),
    t(USER_ACTION, "", 5, "User {user} logged out.", system="ModernCRM"),
    t(USER_ACTION, "", 3, "Lead {int:10000-99999} converted to opportunity by {email}", system="ModernCRM"),
    t(USER_ACTION, "", 3, "Customer record {customer} updated by {email}: fields phone, address, segment",
      system="ModernCRM"),
    t(USER_ACTION, "", 1, 'Dashboard "{pick:Pipeline Q3|Churn Risk|Top Accounts, EMEA}" exported by {user}',
      system="ModernCRM"),
    t(WORKFLOW_ERROR, "", 1.2, "Case escalation for ticket {ticket} failed: assigned agent {user} is "
          "inactive",
      system="ModernCRM"),
    t(ERROR, "", 1, "Email sync with {pick:Exchange|Gmail} failed for mailbox {email}: OAuth token expired",
      system="ModernCRM"),
    # ModernHR
    t(USER_ACTION, "", 2, "Leave request {int:1000-99999} approved by {user}", system="ModernHR"),
    t(SYSTEM_NOTIFICATION, "", 1.5, "Payroll run {int:100-999} completed for {int:200-5000} employees in "
          "{dur}",
      system="ModernHR"),
    t(SECURITY_ALERT, "", 0.8, "Sensitive field SSN {ssn} viewed by {user} for employee {employee} outside "
      "business hours", system="ModernHR"),
    t(WORKFLOW_ERROR, "", 0.8, 'Onboarding workflow for employee {employee} halted: step "{pick:background '
      'check|equipment request|payroll setup}" has no owner', system="ModernHR"),
    t(ERROR, "", 0.6, "Direct deposit update for employee {employee} rejected, bank validation service "
      "returned an error", system="ModernHR"),
    # BillingSystem
    t(SYSTEM_NOTIFICATION, "", 3, "Invoice {invoice} generated for customer {customer}, amount "
      "{amount_grouped} USD", system="BillingSystem"),
    t(SYSTEM_NOTIFICATION, "", 1, "Card {card} charged {amount} USD for subscription {hex8}",
      system="BillingSystem"),
    t(ERROR, "", 1.5, "Payment gateway returned {pick:card_declined|insufficient_funds|expired_card|"
      "processing_error} for invoice {invoice}", system="BillingSystem"),
    t(WORKFLOW_ERROR, "", 1, "Dunning process for account {account} aborted: retry schedule exceeded",
      system="BillingSystem"),
    t(CRITICAL_ERROR, "", 0.2, "Billing database {pick:ledger-primary|billing-pg-01} unreachable, all "
          "payment "
      "processing halted", system="BillingSystem"),
    # AnalyticsEngine
    t(RESOURCE_USAGE, "", 2, "Query {hex8} scanned {int:10000-90000000} rows in {dur}, memory peak "
      "{int:64-16000}MB", system="AnalyticsEngine"),
    t(RESOURCE_USAGE, "", 1.5, "Disk usage on warehouse node {host} at {pct}", system="AnalyticsEngine"),
    t(SYSTEM_NOTIFICATION, "", 2, 'Report "{pick:Weekly Revenue|Churn, by segment|Funnel}" refreshed, '
      "{int:100-500000} rows", system="AnalyticsEngine"),
    t(WORKFLOW_ERROR, "", 0.8, 'ETL pipeline {pick:crm_daily|billing_facts|web_sessions} failed at stage '
      '"{pick:extract|dedupe|load}", downstream reports are stale', system="AnalyticsEngine"),
    t(DEPRECATION_WARNING, "", 0.6, "Model {pick:churn_v1|ltv_baseline|lead_score_v2} version {version} is "
      "deprecated and will be removed after {date}", system="AnalyticsEngine"),
    # ThirdPartyAPI
    t(HTTP_STATUS, "", 4, "GET https://api.{pick:stripe|hubspot|twilio|sendgrid}.com/v1/{pick:customers|"
      "messages|contacts|events}?limit=100 returned {status} in {ms}", system="ThirdPartyAPI"),
    t(HTTP_STATUS, "", 2, "POST https://hooks.{pick:slack|zapier}.com/services/{hex8} responded {status} "
      "after {ms}", system="ThirdPartyAPI"),
    t(ERROR, "", 0.8, "Webhook delivery to partner {pick:acme-logistics|globex-pay|initech} failed, will "
          "retry "
      "({int:1-5} of 5)", system="ThirdPartyAPI"),
    t(ERROR, "", 0.3, 'Partner {pick:globex-pay|initech} sent an invalid payload:\n{"error": "{pick:'
      'schema_mismatch|missing_field}", "request_id": "{uuid}"}', system="ThirdPartyAPI"),
    t(RESOURCE_USAGE, "", 1, "Rate limit reached for {pick:HubSpot|Twilio|Stripe} API: {int:100-1000} "
          "requests "
      "in the last 60s, backing off {dur}", system="ThirdPartyAPI"),
    t(DEPRECATION_WARNING, "", 0.5, "API key for partner {pick:acme-logistics|globex-pay} expires on {date}; "
      "the v1 auth scheme is deprecated", system="ThirdPartyAPI"),
    t(SECURITY_ALERT, "", 0.6, "Unauthorized request to /partner/v2/export from {client}: invalid HMAC "
      "signature", system="ThirdPartyAPI"),
)

LEGACY_CRM: tuple[Template, ...] = (
    t(WORKFLOW_ERROR, "", 4, "Case escalation for ticket ID {ticket} failed because the assigned support "
          "agent "
      "is no longer active."),
    t(WORKFLOW_ERROR, "", 2, "Escalation of ticket #{ticket} FAILED - agent {user} inactive"),
    t(WORKFLOW_ERROR, "", 1.5, "ticket {ticket}: escalation failed (agent deactivated)"),
    t(WORKFLOW_ERROR, "", 3, "Invoice generation process aborted for order ID {int:1000-99999} due to "
          "invalid "
      "tax calculation module."),
    t(WORKFLOW_ERROR, "", 1.5, "order {int:1000-99999} -- invoice NOT generated, tax module returned "
          "garbage"),
    t(WORKFLOW_ERROR, "", 2.5, "Lead conversion failed for prospect ID {int:1000-99999} due to missing "
          "contact "
      "information."),
    t(WORKFLOW_ERROR, "", 1.5, "Customer follow-up process for lead ID {int:1000-99999} failed since the "
      "next action date is missing."),
    t(DEPRECATION_WARNING, "", 2, "The 'BulkEmailSender' feature is no longer supported. Use "
      "'EmailCampaignManager' for improved functionality."),
    t(DEPRECATION_WARNING, "", 2, "The 'ReportGenerator' module will be retired in version {pick:4.0|5.0}. "
      "Please migrate to the 'AdvancedAnalyticsSuite' by {date}."),
    t(DEPRECATION_WARNING, "", 1, "WARNING!! legacy SOAP endpoint /crm/soap/v1 is deprecated - switch to "
          "REST "
      "v3 before {date}"),
    t(DEPRECATION_WARNING, "", 0.8, "support for TLS 1.0 connections ends with release {version}, upgrade "
      "your client"),
    t(USER_ACTION, "", 2, "user {user} logged on (terminal T{int:10-99})"),
    t(USER_ACTION, "", 1.5, "Kunde {customer} Adresse geändert von {user}"),
    t(ERROR, "", 1, "Nightly sync job exited with code {int:1-127}, see sync.log"),
    t(CRITICAL_ERROR, "", 0.3, "DB connection lost!!! all sessions dropped, retrying in {int:5-60}s"),
    t(SYSTEM_NOTIFICATION, "", 1, "Email bounce for contact {email}, address marked invalid"),
    t(USER_ACTION, "", 0.8, "contact {email} merged into {customer} by {user}"),
    t(WORKFLOW_ERROR, "", 0.8, "Payment reminder workflow failed for customer {customer}: card {card} on "
          "file "
      "has expired"),
)

# Billing: log4j with a thread and a logger; `trace` gives the exception a record may carry and how often.
_SVC = "com.acme.billing"
BILLING: tuple[Template, ...] = (
    t(SYSTEM_NOTIFICATION, "INFO", 8, "Invoice {invoice} created for account {account}, total {amount} "
      "{pick:EUR|USD}", logger=f"{_SVC}.InvoiceService", thread="worker"),
    t(SYSTEM_NOTIFICATION, "INFO", 6, "Payment {uuid} captured for invoice {invoice}",
      logger=f"{_SVC}.PaymentService", thread="worker"),
    t(SYSTEM_NOTIFICATION, "INFO", 3, "Scheduled job {pick:invoiceRun|usageRollup|reconcileLedger} finished "
          "in "
      "{dur}", logger=f"{_SVC}.scheduling.JobRunner", thread="scheduling-1"),
    t(USER_ACTION, "INFO", 3, "Account {account} changed plan from {pick:basic|team|business} to "
      "{pick:team|business|enterprise}", logger=f"{_SVC}.SubscriptionService", thread="http"),
    t(USER_ACTION, "INFO", 2, "Account {account} updated billing address and VAT id",
      logger=f"{_SVC}.AccountService", thread="http"),
    t(USER_ACTION, "INFO", 1, "Card {card} registered as default payment method for account {account}",
      logger=f"{_SVC}.PaymentMethodService", thread="http"),
    t(HTTP_STATUS, "INFO", 9, "POST /billing/api/v1/invoices/{invoice}/pay responded {status} in {ms}",
      logger=f"{_SVC}.web.RequestLogFilter", thread="http"),
    t(HTTP_STATUS, "INFO", 5, "GET /billing/api/v1/accounts/{account}/balance responded {status} in {ms}",
      logger=f"{_SVC}.web.RequestLogFilter", thread="http"),
    t(ERROR, "ERROR", 2.5, "Payment failed for invoice {invoice}: {pick:card declined|gateway timeout|"
      "insufficient funds}", logger=f"{_SVC}.PaymentService", thread="worker",
      trace=("com.acme.billing.gateway.PaymentGatewayException", 0.5)),
    t(ERROR, "ERROR", 1, "Failed to publish event {uuid} to topic billing-events",
      logger=f"{_SVC}.events.EventPublisher", thread="kafka",
      trace=("org.apache.kafka.common.errors.TimeoutException", 0.8)),
    t(WORKFLOW_ERROR, "ERROR", 1, "Dunning workflow for account {account} stopped at step {int:1-5}: no "
          "payment "
      "method on file", logger=f"{_SVC}.dunning.DunningWorkflow", thread="worker"),
    t(WORKFLOW_ERROR, "ERROR", 0.6, "Invoice run {date} aborted after {int:1-9000} of {int:9000-12000} "
      "accounts: tax provider returned an invalid response", logger=f"{_SVC}.InvoiceRun",
      thread="scheduling-1",
      trace=("java.lang.IllegalStateException", 0.9)),
    t(RESOURCE_USAGE, "WARN", 2, "Thread pool billing-workers saturated: active={int:32-64} queue="
      "{int:100-5000} rejected={int:0-300}", logger=f"{_SVC}.config.ExecutorMonitor", thread="monitor"),
    t(RESOURCE_USAGE, "INFO", 2, "JVM heap used {int:500-7800}MB of 8192MB after GC ({ms} pause)",
      logger=f"{_SVC}.config.JvmMonitor", thread="monitor"),
    t(DEPRECATION_WARNING, "WARN", 0.8, "Call to deprecated method LegacyTaxCalculator.compute(); use "
      "TaxEngineV2 (removal planned in {version})", logger=f"{_SVC}.tax.LegacyTaxCalculator",
      thread="worker"),
    t(SECURITY_ALERT, "WARN", 0.7, "Rejected webhook from {client}: signature mismatch for event {uuid}",
      logger=f"{_SVC}.web.WebhookController", thread="http"),
    t(SECURITY_ALERT, "WARN", 0.4, "SSN {ssn} submitted in free-text field of account {account}; record "
      "flagged for review", logger=f"{_SVC}.compliance.DataScanner", thread="worker"),
    t(CRITICAL_ERROR, "FATAL", 0.15, "Ledger database connection pool exhausted; halting payment processing",
      logger=f"{_SVC}.ledger.LedgerRepository", thread="worker",
      trace=("java.sql.SQLTransientConnectionException", 1.0)),
)

# Stack traces: exception -> (message, its own frames, the cause line or None, the cause's frames).
EXCEPTIONS: dict[str, tuple[str, tuple[str, ...], str | None, tuple[str, ...]]] = {
    "com.acme.billing.gateway.PaymentGatewayException": (
        "Gateway responded with code {pick:402|502|504}",
        ("com.acme.billing.gateway.StripeGateway.charge(StripeGateway.java:{int:60-140})",
         "com.acme.billing.PaymentService.capture(PaymentService.java:{int:80-220})",
         "com.acme.billing.PaymentService.lambda$retry$3(PaymentService.java:{int:230-260})",
         "org.springframework.retry.support.RetryTemplate.doExecute(RetryTemplate.java:357)"),
        "java.net.SocketTimeoutException: Read timed out",
        ("java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
         "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
         "okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders(Http1ExchangeCodec.kt:187)",
         "com.acme.billing.gateway.StripeGateway.charge(StripeGateway.java:{int:60-140})")),
    "org.apache.kafka.common.errors.TimeoutException": (
        "Expiring 1 record(s) for billing-events-{int:0-11}:120000 ms has passed since batch creation",
        ("com.acme.billing.events.EventPublisher.publish(EventPublisher.java:{int:40-90})",
         "com.acme.billing.PaymentService.capture(PaymentService.java:{int:80-220})"),
        None, ()),
    "java.lang.IllegalStateException": (
        "Tax response missing field 'rate' for region {pick:DE|FR|US-CA|US-NY}",
        ("com.acme.billing.tax.TaxClient.quote(TaxClient.java:{int:90-160})",
         "com.acme.billing.InvoiceRun.processAccount(InvoiceRun.java:{int:100-300})",
         "com.acme.billing.InvoiceRun.run(InvoiceRun.java:{int:60-99})"),
        "com.fasterxml.jackson.databind.exc.MismatchedInputException: No content to map due to end-of-input",
        ("com.fasterxml.jackson.databind.ObjectMapper._initForReading(ObjectMapper.java:4916)",
         "com.fasterxml.jackson.databind.ObjectMapper._readMapAndClose(ObjectMapper.java:4818)",
         "com.acme.billing.tax.TaxClient.parse(TaxClient.java:{int:40-89})")),
    "java.sql.SQLTransientConnectionException": (
        "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
        ("com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
         "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
         "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
         "com.acme.billing.ledger.LedgerRepository.append(LedgerRepository.java:{int:40-200})"),
        "org.postgresql.util.PSQLException: Connection to ledger-primary:5432 refused. Check that the "
        "hostname "
        "and port are correct and that the postmaster is accepting TCP/IP connections.",
        ("org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)",
         "org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)",
         "org.postgresql.Driver.makeConnection(Driver.java:443)")),
}
# The frames every worker thread ends with; a cause's trace prints them as `... N more`.
COMMON_FRAMES = (
    "org.springframework.transaction.support.TransactionTemplate.execute(TransactionTemplate.java:140)",
    "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed("
    "ReflectiveMethodInvocation.java:186)",
    "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:635)",
    "java.base/java.lang.Thread.run(Thread.java:840)",
)

# `system_catalog.csv`: every source, and the systems inside the CRM export.
SYSTEM_CATALOG: tuple[tuple[str, str, str, str], ...] = (
    ("nova", "Cloud Infrastructure", "cloud-platform@acme-corp.com", "high"),
    ("syslog", "IT Operations", "it-ops@acme-corp.com", "medium"),
    ("apache", "Web Platform", "web-platform@acme-corp.com", "medium"),
    ("app_json", "Digital Commerce", "commerce-sre@acme-corp.com", "high"),
    ("crm_export", "Sales Operations", "salesops@acme-corp.com", "medium"),
    ("legacy_crm", "Sales Operations", "salesops@acme-corp.com", "low"),
    ("billing", "Finance Engineering", "billing-oncall@acme-corp.com", "critical"),
    ("ModernCRM", "Sales", "crm-team@acme-corp.com", "high"),
    ("ModernHR", "People Operations", "hr-systems@acme-corp.com", "high"),
    ("BillingSystem", "Finance", "finance-systems@acme-corp.com", "critical"),
    ("AnalyticsEngine", "Data & Analytics", "data-platform@acme-corp.com", "medium"),
    ("ThirdPartyAPI", "Integrations", "integrations@acme-corp.com", "medium"),
)
