//! The resource every span carries: service, deployment, host and process.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

use crate::settings::Settings;

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
}

/// Builds the resource. `service.name`: `OTEL_SERVICE_NAME`, else `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES`, else the name set in code, else `unknown_service:<executable>`.
///
/// ```
/// use opentelemetry::{Key, Value};
/// let env = |name: &str| match name {
///     "OTEL_RESOURCE_ATTRIBUTES" => Some("service.name=billing,team=payments".to_string()),
///     _ => None,
/// };
/// let (settings, _) = trace_init::Settings::from_lookup(env);
/// let resource = trace_init::resource::build(&settings, Some("name-in-code"));
/// assert_eq!(resource.get(&Key::new("service.name")), Some(Value::from("billing")));
/// assert_eq!(resource.get(&Key::new("team")), Some(Value::from("payments")));
/// assert!(resource.get(&Key::new("process.pid")).is_some());
/// ```
pub fn build(settings: &Settings, code_service_name: Option<&str>) -> Resource {
    let from_attrs = |key: &str| {
        settings
            .resource_attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let exe = executable_name();
    let service_name = settings
        .service_name
        .clone()
        .or_else(|| from_attrs("service.name"))
        .or_else(|| code_service_name.map(str::to_owned))
        .unwrap_or_else(|| format!("unknown_service:{exe}"));
    let mut attrs = vec![
        KeyValue::new("telemetry.sdk.name", "opentelemetry"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", "0.33"),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.executable.name", exe),
        KeyValue::new("process.runtime.name", "rust"),
        KeyValue::new("os.type", std::env::consts::OS),
        KeyValue::new("host.arch", std::env::consts::ARCH),
    ];
    if let Some(h) = host_name() {
        attrs.push(KeyValue::new("host.name", h));
    }
    if let Some(v) = settings
        .service_version
        .clone()
        .or_else(|| from_attrs("service.version"))
    {
        attrs.push(KeyValue::new("service.version", v));
    }
    if let Some(e) = settings
        .environment
        .clone()
        .or_else(|| from_attrs("deployment.environment.name"))
    {
        attrs.push(KeyValue::new("deployment.environment.name", e));
    }
    for (k, v) in &settings.resource_attributes {
        if !matches!(
            k.as_str(),
            "service.name" | "service.version" | "deployment.environment.name"
        ) {
            attrs.push(KeyValue::new(k.clone(), v.clone()));
        }
    }
    attrs.push(KeyValue::new("service.name", service_name));
    Resource::builder_empty().with_attributes(attrs).build()
}
