-- The bridge's own tables. Generated from bridge/models.py by
-- `smsbridge db ddl`; `smsbridge db init` creates them.

CREATE TABLE alerts (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	kind VARCHAR(32) NOT NULL, 
	subject VARCHAR(64) NOT NULL, 
	level VARCHAR(16) NOT NULL, 
	detail VARCHAR(512) NOT NULL, 
	open_key VARCHAR(100), 
	opened_at DATETIME NOT NULL, 
	resolved_at DATETIME, 
	notified_at DATETIME NOT NULL, 
	reminders INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (open_key)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_alerts_opened ON alerts (opened_at);

CREATE TABLE login_failures (
	address VARCHAR(64) NOT NULL, 
	login VARCHAR(64) NOT NULL, 
	failures INTEGER NOT NULL, 
	locked_until DATETIME NOT NULL, 
	last_failed_at DATETIME NOT NULL, 
	PRIMARY KEY (address, login)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE notebooks (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	name VARCHAR(100) NOT NULL, 
	`position` INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE opt_outs (
	phone VARCHAR(20) NOT NULL, 
	reason VARCHAR(255), 
	source VARCHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (phone)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE users (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	login VARCHAR(64) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	is_admin BOOL NOT NULL, 
	blocked BOOL NOT NULL, 
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, 
	send_window_start TIME, 
	send_window_end TIME, 
	timezone VARCHAR(64), 
	PRIMARY KEY (id), 
	UNIQUE (login)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE worker_passes (
	job VARCHAR(32) NOT NULL, 
	last_pass_at DATETIME NOT NULL, 
	PRIMARY KEY (job)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE admin_sessions (
	id VARCHAR(64) NOT NULL, 
	user_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE alert_channels (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	kind VARCHAR(8) NOT NULL, 
	target VARCHAR(255) NOT NULL, 
	user_id INTEGER, 
	smtp_host VARCHAR(255), 
	smtp_port INTEGER, 
	smtp_security VARCHAR(8), 
	smtp_login VARCHAR(255), 
	smtp_password VARCHAR(255), 
	mail_from VARCHAR(255), 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE api_keys (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	user_id INTEGER NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	prefix VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, 
	revoked_at DATETIME, 
	last_used_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, 
	UNIQUE (key_hash)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE opt_out_events (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	phone VARCHAR(20) NOT NULL, 
	action VARCHAR(8) NOT NULL, 
	reason VARCHAR(255), 
	source VARCHAR(32) NOT NULL, 
	actor VARCHAR(64), 
	created_at DATETIME NOT NULL, 
	user_id INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_opt_out_events_phone ON opt_out_events (phone);

CREATE TABLE report_cells (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	notebook_id INTEGER NOT NULL, 
	`position` INTEGER NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	query TEXT NOT NULL, 
	chart VARCHAR(8) NOT NULL, 
	chart_x VARCHAR(64), 
	chart_y VARCHAR(255), 
	chart_y2 VARCHAR(255), 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(notebook_id) REFERENCES notebooks (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE rules (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	user_id INTEGER, 
	`position` INTEGER NOT NULL, 
	match_kind VARCHAR(8) NOT NULL, 
	pattern VARCHAR(255) NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	argument VARCHAR(2048), 
	secret VARCHAR(64), 
	enabled BOOL NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_rules_position ON rules (`position`);

CREATE TABLE send_requests (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	user_id INTEGER NOT NULL, 
	idempotency_key VARCHAR(255), 
	payload_hash VARCHAR(64) NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (user_id, idempotency_key), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE sims (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	name VARCHAR(64) NOT NULL, 
	number VARCHAR(20) NOT NULL, 
	owner_id INTEGER, 
	enabled BOOL NOT NULL, 
	monthly_limit INTEGER, 
	billing_day SMALLINT NOT NULL, 
	device VARCHAR(255), 
	connection VARCHAR(32), 
	simulated BOOL NOT NULL, 
	delivery_report BOOL NOT NULL, 
	healthy BOOL NOT NULL, 
	health_changed_at DATETIME, 
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, 
	stalled_since DATETIME, 
	stall_reason VARCHAR(255), 
	watch_since DATETIME, 
	stall_after INTEGER NOT NULL DEFAULT '60', 
	stall_errors SMALLINT NOT NULL DEFAULT '3', 
	restart_stalled BOOL NOT NULL DEFAULT '0', 
	restarts INTEGER NOT NULL DEFAULT '0', 
	restarted_at DATETIME, 
	reset_every INTEGER NOT NULL DEFAULT '0', 
	hard_reset_every INTEGER NOT NULL DEFAULT '0', 
	imsi VARCHAR(35), 
	imei VARCHAR(35), 
	identity_since DATETIME, 
	new_imsi VARCHAR(35), 
	new_imei VARCHAR(35), 
	quarantined_at DATETIME, 
	quarantine_reason VARCHAR(255), 
	removed_at DATETIME, 
	balance_code VARCHAR(32), 
	balance_every SMALLINT, 
	balance_pattern VARCHAR(255), 
	balance_low NUMERIC(12, 2), 
	max_per_minute INTEGER, 
	max_per_hour INTEGER, 
	max_per_day INTEGER, 
	max_recipients_per_month INTEGER, 
	jitter INTEGER NOT NULL DEFAULT 0, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE user_opt_outs (
	user_id INTEGER NOT NULL, 
	phone VARCHAR(20) NOT NULL, 
	reason VARCHAR(255), 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (user_id, phone), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE webhook_deliveries (
	id VARCHAR(32) NOT NULL, 
	user_id INTEGER, 
	event VARCHAR(32) NOT NULL, 
	url VARCHAR(2048) NOT NULL, 
	secret VARCHAR(64) NOT NULL, 
	payload TEXT NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	attempts SMALLINT NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error VARCHAR(512), 
	created_at DATETIME NOT NULL, 
	delivered_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhooks (
	user_id INTEGER NOT NULL, 
	url VARCHAR(2048) NOT NULL, 
	secret VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (user_id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE alert_emails (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	channel_id INTEGER NOT NULL, 
	alert_id BIGINT, 
	subject VARCHAR(255) NOT NULL, 
	`body` TEXT NOT NULL, 
	status VARCHAR(8) NOT NULL, 
	attempts SMALLINT NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error VARCHAR(512), 
	created_at DATETIME NOT NULL, 
	sent_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(channel_id) REFERENCES alert_channels (id) ON DELETE CASCADE, 
	FOREIGN KEY(alert_id) REFERENCES alerts (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_alert_emails_due ON alert_emails (status, next_attempt_at);

CREATE TABLE balance_checks (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	sim_id INTEGER NOT NULL, 
	code VARCHAR(32), 
	outbox_id INTEGER, 
	state VARCHAR(12) NOT NULL, 
	requested_at DATETIME, 
	answered_at DATETIME, 
	ussd_status SMALLINT, 
	answer TEXT, 
	amount NUMERIC(12, 2), 
	error VARCHAR(255), 
	PRIMARY KEY (id), 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_balance_checks_sim ON balance_checks (sim_id, id);

CREATE INDEX ix_balance_checks_state ON balance_checks (state, sim_id);

CREATE TABLE inbound_messages (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	sim_id INTEGER, 
	sim_name VARCHAR(64) NOT NULL, 
	sender VARCHAR(20) NOT NULL, 
	text TEXT NOT NULL, 
	parts SMALLINT NOT NULL, 
	complete BOOL NOT NULL, 
	user_id INTEGER, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE SET NULL, 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE SET NULL
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_inbound_user ON inbound_messages (user_id, id);

CREATE TABLE messages (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	request_id BIGINT NOT NULL, 
	user_id INTEGER NOT NULL, 
	recipient VARCHAR(20) NOT NULL, 
	text TEXT NOT NULL, 
	flash BOOL NOT NULL, 
	priority SMALLINT NOT NULL, 
	status ENUM('queued','dispatched','sent','delivered','undelivered','failed','expired','opted_out','cancelled') NOT NULL, 
	attempts_allowed SMALLINT NOT NULL, 
	attempts_made SMALLINT NOT NULL, 
	parts SMALLINT, 
	sim_id INTEGER, 
	due_at DATETIME NOT NULL, 
	send_at DATETIME, 
	expires_at DATETIME, 
	wait_reason VARCHAR(255), 
	last_error VARCHAR(255), 
	delivery_report BOOL, 
	delivery_status INTEGER, 
	callback_url VARCHAR(2048), 
	ignore_opt_out BOOL NOT NULL, 
	on_uncertain ENUM('fail','resend') NOT NULL DEFAULT 'fail', 
	quiet_hours BOOL NOT NULL DEFAULT 1, 
	avoid_sim_id INTEGER, 
	only_sim_id INTEGER, 
	created_at DATETIME NOT NULL, 
	dispatched_at DATETIME, 
	sent_at DATETIME, 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(request_id) REFERENCES send_requests (id) ON DELETE CASCADE, 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE SET NULL, 
	FOREIGN KEY(avoid_sim_id) REFERENCES sims (id) ON DELETE SET NULL, 
	FOREIGN KEY(only_sim_id) REFERENCES sims (id) ON DELETE SET NULL
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_messages_claim ON messages (status, priority DESC, due_at, id);

CREATE INDEX ix_messages_user_created ON messages (user_id, created_at);

CREATE TABLE sim_events (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	sim_id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	detail VARCHAR(1024) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_sim_events_kind ON sim_events (kind, id);

CREATE INDEX ix_sim_events_sim ON sim_events (sim_id, id);

CREATE TABLE sim_recipients (
	sim_id INTEGER NOT NULL, 
	period_start DATE NOT NULL, 
	recipient VARCHAR(20) NOT NULL, 
	PRIMARY KEY (sim_id, period_start, recipient), 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE sim_usage (
	sim_id INTEGER NOT NULL, 
	period_start DATE NOT NULL, 
	parts INTEGER NOT NULL, 
	PRIMARY KEY (sim_id, period_start), 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE inbound_parts (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	inbox_id INTEGER NOT NULL, 
	sim_name VARCHAR(64) NOT NULL, 
	sender VARCHAR(20) NOT NULL, 
	text TEXT NOT NULL, 
	reference INTEGER, 
	total SMALLINT NOT NULL, 
	sequence SMALLINT NOT NULL, 
	received_at DATETIME NOT NULL, 
	message_id BIGINT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(message_id) REFERENCES inbound_messages (id) ON DELETE SET NULL
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_inbound_parts_inbox_id ON inbound_parts (inbox_id);

CREATE INDEX ix_inbound_parts_open ON inbound_parts (message_id, sim_name, sender, reference);

CREATE TABLE message_attempts (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	message_id BIGINT NOT NULL, 
	sim_id INTEGER NOT NULL, 
	outbox_id INTEGER NOT NULL, 
	parts SMALLINT NOT NULL, 
	period_start DATE NOT NULL, 
	outcome ENUM('pending','sent','error','taken_back','uncertain') NOT NULL, 
	error VARCHAR(255), 
	dispatched_at DATETIME NOT NULL, 
	send_after DATETIME(6), 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE, 
	FOREIGN KEY(sim_id) REFERENCES sims (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_attempts_outcome ON message_attempts (outcome, outbox_id);

CREATE INDEX ix_attempts_sim_finished ON message_attempts (sim_id, finished_at);

CREATE TABLE rule_results (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	inbound_id BIGINT NOT NULL, 
	rule_id INTEGER, 
	label VARCHAR(255) NOT NULL, 
	outcome VARCHAR(8) NOT NULL, 
	detail VARCHAR(1024), 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(inbound_id) REFERENCES inbound_messages (id) ON DELETE CASCADE, 
	FOREIGN KEY(rule_id) REFERENCES rules (id) ON DELETE SET NULL
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_rule_results_inbound_id ON rule_results (inbound_id);
