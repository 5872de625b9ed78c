//! Configuration read once from `CAUSERIE_*` environment variables. Every default works on a
//! developer machine where PostgreSQL, Redis and RabbitMQ listen on their standard local ports.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Gateway,
    Accounts,
    Assistant,
    LiveChat,
    FormsAnalytics,
    Retention,
}

impl Service {
    pub const ALL: [Service; 6] =
        [Self::Gateway, Self::Accounts, Self::Assistant, Self::LiveChat, Self::FormsAnalytics, Self::Retention];

    /// The name used on the command line, in logs and in bus queue names.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Accounts => "accounts",
            Self::Assistant => "assistant",
            Self::LiveChat => "live-chat",
            Self::FormsAnalytics => "forms-analytics",
            Self::Retention => "retention",
        }
    }

    /// The name as an identifier: databases, roles, environment variables.
    pub fn identifier(self) -> String {
        self.name().replace('-', "_")
    }

    const fn default_port(self) -> u16 {
        match self {
            Self::Gateway => 8080,
            Self::Accounts => 50051,
            Self::Assistant => 50052,
            Self::LiveChat => 50053,
            Self::FormsAnalytics => 50054,
            Self::Retention => 50055,
        }
    }
}

/// The database roles a service logs in as, each with a password of its own, so that what one
/// service holds cannot open another's data, nor its own beyond what the role needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatabaseRole {
    /// The service's own tables, under row-level security.
    Application,
    /// The outbox relay: every tenant's outbox rows, and nothing else.
    OutboxRelay,
    /// Accounts' mailer: every tenant's outgoing mail, and nothing else.
    Mailer,
}

impl DatabaseRole {
    /// The last word of the login role's name (`causerie_accounts_app`).
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::Application => "app",
            Self::OutboxRelay => "relay",
            Self::Mailer => "mailer",
        }
    }

    const fn variable_part(self) -> &'static str {
        match self {
            Self::Application => "",
            Self::OutboxRelay => "RELAY_",
            Self::Mailer => "MAILER_",
        }
    }

    /// The roles `service` logs in as.
    pub const fn of(service: Service) -> &'static [DatabaseRole] {
        match service {
            Service::Gateway => &[],
            Service::Accounts => &[Self::Application, Self::OutboxRelay, Self::Mailer],
            _ => &[Self::Application, Self::OutboxRelay],
        }
    }

    /// The variable that holds the role's password: `CAUSERIE_ACCOUNTS_RELAY_DATABASE_PASSWORD`.
    pub fn password_variable(service: Service, role: DatabaseRole) -> String {
        format!("CAUSERIE_{}_{}DATABASE_PASSWORD", service.identifier().to_uppercase(), role.variable_part())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|service| service.name() == text)
            .ok_or_else(|| ConfigError::new("--services", format!("unknown service {text:?}")))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    variable: String,
    message: String,
}

impl ConfigError {
    fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self { variable: variable.into(), message: message.into() }
    }
}

#[derive(Clone)]
pub struct Config {
    /// Prefixes database names, bus exchanges and queues, and Redis keys, so that several stacks
    /// (parallel tests) share one PostgreSQL, Redis and RabbitMQ without seeing each other.
    pub namespace: String,
    /// The public REST and widget listener.
    pub public_addr: SocketAddr,
    /// The admin API listener, kept apart so a deployment can keep it off the internet.
    pub admin_addr: SocketAddr,
    /// Where each backend service listens (gRPC, health and metrics on one port).
    service_addrs: HashMap<Service, SocketAddr>,
    /// How other services reach each backend service.
    service_urls: HashMap<Service, String>,
    /// The PostgreSQL server. Services take its host, port and options and log in as their own
    /// roles; only migrating (`causerie migrate`, or `migrate_at_start`) uses the role it names,
    /// which must be able to create databases and roles, and owns the tables.
    pub database_url: String,
    /// `CAUSERIE_MIGRATE_AT_START`: each service creates and migrates its database at start, as
    /// the owner of `database_url`. For the all-in-one local mode and the tests; a deployment
    /// migrates in a job of its own, so that no running service holds the owner's credentials.
    pub migrate_at_start: bool,
    /// The password of each role of each service, read through `database_password()`.
    database_passwords: HashMap<(Service, DatabaseRole), String>,
    /// Shared by the services only: what a service shows accounts to be given a service token.
    /// Read through `service_secret()`, which the services that need it call at start.
    service_secret: Option<String>,
    pub redis_url: String,
    pub amqp_url: String,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or `smtps://` (TLS),
    /// with `user:password@` when the server wants it.
    pub smtp_url: String,
    /// The `From` of the mail Causerie sends.
    pub mail_from: String,
    /// Where people reach the public API; links in mail point there.
    pub public_url: String,
    pub bootstrap_staff_email: String,
    pub bootstrap_staff_password: Option<String>,
    /// Enables the shared test clock. Never in production.
    pub test_mode: bool,
    pub log_filter: String,
    /// Requests one caller may make per minute on the public API.
    pub rate_limit_per_minute: u64,
    /// Widget requests one visitor (`cz_vid`) may make per minute.
    pub widget_visitor_rate_limit_per_minute: u64,
    /// Widget requests one source address may make per minute, whatever visitor they claim: the
    /// visitor id is the caller's to choose, the address is not.
    pub widget_address_rate_limit_per_minute: u64,
    /// The proxies in front of the gateway (an ingress, a load balancer): from a peer in these
    /// ranges, the client's address is read from `X-Forwarded-For`. Empty: the peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub otlp_endpoint: Option<String>,
    /// Acapela's synthesizer (text-to-speech for the tenants whose policy chooses `acapela`), and
    /// the platform's account there. Empty: Acapela answers that it is not configured.
    pub acapela_url: String,
    pub acapela_login: String,
    pub acapela_password: String,
    /// Google Cloud Translation's API root, and the platform's API key. Empty key: translation
    /// answers that it is not configured.
    pub google_translate_url: String,
    pub google_translate_key: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Config")
            .field("namespace", &self.namespace)
            .field("public_addr", &self.public_addr)
            .field("admin_addr", &self.admin_addr)
            .field("service_addrs", &self.service_addrs)
            .field("service_urls", &self.service_urls)
            .field("test_mode", &self.test_mode)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// The shortest service secret accepted.
const MIN_SERVICE_SECRET_LEN: usize = 16;
/// The shortest database password accepted.
const MIN_DATABASE_PASSWORD_LEN: usize = 16;
/// What every role's password is in the test mode when none is given: tests on one server share
/// it, each with roles of its own namespace.
const TEST_MODE_DATABASE_PASSWORD: &str = "causerie-test-mode-database-password";

impl Config {
    /// `CAUSERIE_SERVICE_SECRET`, required by the services that ask for service tokens or give them.
    pub fn service_secret(&self) -> Result<&str, ConfigError> {
        match &self.service_secret {
            Some(secret) if secret.len() >= MIN_SERVICE_SECRET_LEN => Ok(secret),
            Some(_) => Err(ConfigError::new(
                "CAUSERIE_SERVICE_SECRET",
                format!("at least {MIN_SERVICE_SECRET_LEN} characters"),
            )),
            None => Err(ConfigError::new(
                "CAUSERIE_SERVICE_SECRET",
                format!(
                    "required: the secret the services share, at least {MIN_SERVICE_SECRET_LEN} characters; set the same \
                     random value for every service, e.g. `export CAUSERIE_SERVICE_SECRET=$(openssl rand -hex 32)`"
                ),
            )),
        }
    }

    /// The password `service` logs in with as `role` (`DatabaseRole::password_variable`). No
    /// default outside the test mode: each role's is its own.
    pub fn database_password(&self, service: Service, role: DatabaseRole) -> Result<&str, ConfigError> {
        let variable = DatabaseRole::password_variable(service, role);
        match self.database_passwords.get(&(service, role)) {
            Some(password) if password.len() >= MIN_DATABASE_PASSWORD_LEN => Ok(password),
            Some(_) => Err(ConfigError::new(variable, format!("at least {MIN_DATABASE_PASSWORD_LEN} characters"))),
            None if self.test_mode => Ok(TEST_MODE_DATABASE_PASSWORD),
            None => Err(ConfigError::new(
                &variable,
                format!(
                    "required: the password of the {} database role of {service}, at least \
                     {MIN_DATABASE_PASSWORD_LEN} characters, the same for `causerie migrate` and the service; \
                     e.g. `export {variable}=$(openssl rand -hex 24)`",
                    role.suffix()
                ),
            )),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests can supply variables without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str, default: &str| -> String {
            lookup(name).filter(|value| !value.is_empty()).unwrap_or_else(|| default.to_owned())
        };
        let whole_number = |name: &str, default: &str| -> Result<u64, ConfigError> {
            text(name, default).parse().map_err(|_| ConfigError::new(name, "not a whole number"))
        };
        let address = |name: &str, default: String| -> Result<SocketAddr, ConfigError> {
            text(name, &default)
                .parse()
                .map_err(|error| ConfigError::new(name, format!("not a socket address: {error}")))
        };
        let mut service_addrs = HashMap::new();
        let mut service_urls = HashMap::new();
        for service in Service::ALL.into_iter().filter(|service| *service != Service::Gateway) {
            let variable = service.identifier().to_uppercase();
            let default_addr = format!("127.0.0.1:{}", service.default_port());
            let service_addr = address(&format!("CAUSERIE_{variable}_ADDR"), default_addr)?;
            let service_url = text(&format!("CAUSERIE_{variable}_URL"), &format!("http://{service_addr}"));
            service_addrs.insert(service, service_addr);
            service_urls.insert(service, service_url);
        }
        let namespace = text("CAUSERIE_NAMESPACE", "causerie");
        if !namespace
            .chars()
            .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_')
            || namespace.is_empty()
        {
            return Err(ConfigError::new("CAUSERIE_NAMESPACE", "only lowercase letters, digits and underscores"));
        }
        let test_mode = match text("CAUSERIE_TEST_MODE", "0").as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            other => {
                return Err(ConfigError::new("CAUSERIE_TEST_MODE", format!("{other:?} is not 0 or 1")));
            }
        };
        Ok(Self {
            namespace,
            public_addr: address("CAUSERIE_PUBLIC_ADDR", "127.0.0.1:8080".to_owned())?,
            admin_addr: address("CAUSERIE_ADMIN_ADDR", "127.0.0.1:8081".to_owned())?,
            service_addrs,
            service_urls,
            database_url: text("CAUSERIE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
            migrate_at_start: match text("CAUSERIE_MIGRATE_AT_START", "0").as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                other => {
                    return Err(ConfigError::new("CAUSERIE_MIGRATE_AT_START", format!("{other:?} is not 0 or 1")));
                }
            },
            database_passwords: Service::ALL
                .into_iter()
                .flat_map(|service| DatabaseRole::of(service).iter().map(move |role| (service, *role)))
                .filter_map(|(service, role)| {
                    let password = lookup(&DatabaseRole::password_variable(service, role))?;
                    (!password.is_empty()).then_some(((service, role), password))
                })
                .collect(),
            // No default outside the test mode: a secret everyone can read in this file would let
            // anything on the network ask for a service token.
            service_secret: lookup("CAUSERIE_SERVICE_SECRET")
                .filter(|secret| !secret.is_empty())
                .or_else(|| test_mode.then(|| "causerie-test-mode-service-secret".to_owned())),
            redis_url: text("CAUSERIE_REDIS_URL", "redis://127.0.0.1:6379"),
            amqp_url: text("CAUSERIE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            smtp_url: text("CAUSERIE_SMTP_URL", "smtp://127.0.0.1:1025"),
            mail_from: text("CAUSERIE_MAIL_FROM", "Causerie <no-reply@causerie.local>"),
            public_url: text("CAUSERIE_PUBLIC_URL", "http://127.0.0.1:8080"),
            bootstrap_staff_email: text("CAUSERIE_BOOTSTRAP_STAFF_EMAIL", "staff@causerie.local"),
            bootstrap_staff_password: lookup("CAUSERIE_BOOTSTRAP_STAFF_PASSWORD")
                .filter(|password| !password.is_empty()),
            test_mode,
            log_filter: lookup("CAUSERIE_LOG").or_else(|| lookup("RUST_LOG")).unwrap_or_else(|| "info".to_owned()),
            rate_limit_per_minute: whole_number("CAUSERIE_RATE_LIMIT_PER_MINUTE", "6000")?,
            widget_visitor_rate_limit_per_minute: whole_number("CAUSERIE_WIDGET_VISITOR_RATE_LIMIT_PER_MINUTE", "120")?,
            widget_address_rate_limit_per_minute: whole_number(
                "CAUSERIE_WIDGET_ADDRESS_RATE_LIMIT_PER_MINUTE",
                "1200",
            )?,
            otlp_endpoint: lookup("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|endpoint| !endpoint.is_empty()),
            acapela_url: text("CAUSERIE_ACAPELA_URL", "https://vaas.acapela-group.com/Services/Synthesizer"),
            acapela_login: text("CAUSERIE_ACAPELA_LOGIN", ""),
            acapela_password: text("CAUSERIE_ACAPELA_PASSWORD", ""),
            google_translate_url: text("CAUSERIE_GOOGLE_TRANSLATE_URL", "https://translation.googleapis.com"),
            google_translate_key: text("CAUSERIE_GOOGLE_TRANSLATE_KEY", ""),
            trusted_proxies: text("CAUSERIE_TRUSTED_PROXIES", "")
                .split(',')
                .map(str::trim)
                .filter(|range| !range.is_empty())
                .map(|range| {
                    // A bare address is a range of one.
                    range.parse::<ipnet::IpNet>().or_else(|_| range.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                })
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ConfigError::new(
                        "CAUSERIE_TRUSTED_PROXIES",
                        "not a comma-separated list of addresses or CIDR ranges",
                    )
                })?,
        })
    }

    /// Where a service listens; for the gateway, its public listener.
    pub fn service_addr(&self, service: Service) -> SocketAddr {
        self.service_addrs.get(&service).copied().unwrap_or(self.public_addr)
    }

    pub fn set_service_addr(&mut self, service: Service, addr: SocketAddr) {
        if service == Service::Gateway {
            self.public_addr = addr;
        } else {
            self.service_addrs.insert(service, addr);
        }
    }

    /// How to reach a service: gRPC for the backends, HTTP for the gateway.
    pub fn service_url(&self, service: Service) -> String {
        self.service_urls.get(&service).cloned().unwrap_or_else(|| format!("http://{}", self.public_addr))
    }

    pub fn set_service_url(&mut self, service: Service, url: String) {
        self.service_urls.insert(service, url);
    }

    /// The AMQP exchange and queue names of this namespace start with this.
    pub fn bus_prefix(&self) -> &str {
        &self.namespace
    }

    /// The database a service owns on the configured server.
    pub fn database_name(&self, service: Service) -> String {
        format!("{}_{}", self.namespace, service.identifier())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let variables: HashMap<String, String> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        Config::from_lookup(|name| variables.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.public_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.admin_addr.to_string(), "127.0.0.1:8081");
        assert_eq!(config.service_addr(Service::Accounts).to_string(), "127.0.0.1:50051");
        assert_eq!(config.service_url(Service::Retention), "http://127.0.0.1:50055");
        assert_eq!(config.database_name(Service::LiveChat), "causerie_live_chat");
        assert!(!config.test_mode);
        assert!(config.bootstrap_staff_password.is_none());
        assert!(config.trusted_proxies.is_empty(), "the peer is the client unless told otherwise");
    }

    #[test]
    fn variables_override_defaults() {
        let config = config_from(&[
            ("CAUSERIE_ACCOUNTS_ADDR", "0.0.0.0:6000"),
            ("CAUSERIE_ACCOUNTS_URL", "http://accounts:6000"),
            ("CAUSERIE_TEST_MODE", "1"),
            ("CAUSERIE_NAMESPACE", "t_42"),
        ])
        .unwrap();
        assert_eq!(config.service_addr(Service::Accounts).port(), 6000);
        assert_eq!(config.service_url(Service::Accounts), "http://accounts:6000");
        assert!(config.test_mode);
        assert_eq!(config.database_name(Service::Accounts), "t_42_accounts");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config_from(&[("CAUSERIE_PUBLIC_ADDR", "nowhere")]).err().unwrap();
        assert!(error.to_string().starts_with("CAUSERIE_PUBLIC_ADDR"));
        let error = config_from(&[("CAUSERIE_TEST_MODE", "yes")]).err().unwrap();
        assert!(error.to_string().starts_with("CAUSERIE_TEST_MODE"));
        assert!(config_from(&[("CAUSERIE_NAMESPACE", "Drop Table")]).is_err());
        let error = config_from(&[("CAUSERIE_TRUSTED_PROXIES", "10.0.0.0/8, the ingress")]).err().unwrap();
        assert!(error.to_string().starts_with("CAUSERIE_TRUSTED_PROXIES"));
        let config = config_from(&[("CAUSERIE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1 ,fd00::/8")]).unwrap();
        assert_eq!(config.trusted_proxies.len(), 3);
    }

    #[test]
    fn the_service_secret_has_no_default_outside_the_test_mode() {
        let error = config_from(&[]).unwrap().service_secret().err().unwrap();
        assert!(error.to_string().starts_with("CAUSERIE_SERVICE_SECRET"));
        assert!(error.to_string().contains("export CAUSERIE_SERVICE_SECRET="), "the error says how to set it: {error}");
        assert!(config_from(&[("CAUSERIE_SERVICE_SECRET", "short")]).unwrap().service_secret().is_err());
        let config = config_from(&[("CAUSERIE_SERVICE_SECRET", "a long enough shared secret")]).unwrap();
        assert_eq!(config.service_secret().unwrap(), "a long enough shared secret");
        assert!(config_from(&[("CAUSERIE_TEST_MODE", "1")]).unwrap().service_secret().is_ok());
    }

    #[test]
    fn service_names_parse() {
        assert_eq!("live-chat".parse::<Service>().unwrap(), Service::LiveChat);
        assert!("billing".parse::<Service>().is_err());
    }
}
