-- The rehearsal database (MariaDB, test bed): a few of Drupal's and the platform's tables with rows, so that
-- the backup, the migrations, the data snapshot and the full rollback's restore work on real SQL.
DROP DATABASE IF EXISTS jaraba;
CREATE DATABASE jaraba CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE jaraba;
CREATE TABLE users (uid INT PRIMARY KEY, name VARCHAR(60) NOT NULL, mail VARCHAR(254), status TINYINT NOT NULL DEFAULT 1);
CREATE TABLE node (nid INT PRIMARY KEY, type VARCHAR(32) NOT NULL, title VARCHAR(255) NOT NULL, uid INT NOT NULL);
-- Drupal 11's user roles field table (user__roles), as core creates it.
CREATE TABLE user__roles (bundle VARCHAR(128) NOT NULL DEFAULT 'user', deleted TINYINT NOT NULL DEFAULT 0, entity_id INT NOT NULL, revision_id INT NOT NULL, langcode VARCHAR(32) NOT NULL DEFAULT 'und', delta INT NOT NULL DEFAULT 0, roles_target_id VARCHAR(255) NOT NULL, PRIMARY KEY (entity_id, deleted, delta, langcode));
CREATE TABLE commerce_order (order_id INT PRIMARY KEY, uid INT NOT NULL, total_cents INT NOT NULL, state VARCHAR(32) NOT NULL);
CREATE TABLE key_value (collection VARCHAR(128) NOT NULL, name VARCHAR(128) NOT NULL, value LONGBLOB, PRIMARY KEY (collection, name));
-- Drupal core's dblog table (the columns drush watchdog:show reads).
CREATE TABLE watchdog (wid INT AUTO_INCREMENT PRIMARY KEY, type VARCHAR(64) NOT NULL, message LONGTEXT NOT NULL, severity TINYINT NOT NULL DEFAULT 6, timestamp INT NOT NULL DEFAULT 0);
INSERT INTO users VALUES (0, '', NULL, 0), (1, 'admin', 'admin@jarabaimpact.com', 1);
INSERT INTO users SELECT seq, CONCAT('usuario', seq), CONCAT('usuario', seq, '@example.com'), 1 FROM seq_2_to_40;
INSERT INTO node SELECT seq, IF(seq % 3 = 0, 'oferta_empleo', IF(seq % 3 = 1, 'producto', 'articulo')), CONCAT('Contenido ', seq), 1 + seq % 40 FROM seq_1_to_120;
INSERT INTO user__roles (entity_id, revision_id, roles_target_id) VALUES (1, 1, 'administrator');
INSERT INTO commerce_order SELECT seq, 2 + seq % 38, 1000 + 137 * seq, IF(seq % 5 = 0, 'draft', 'completed') FROM seq_1_to_60;
INSERT INTO key_value VALUES ('system.schema', 'jaraba_core', '11001'), ('state', 'system.cron_last', '1795800000');
