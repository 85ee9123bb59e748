//! The one registration list of built-in components: one line per component.

use ferrotel_core::Registry;

/// Every component type this binary knows.
pub fn builtin() -> Registry {
    Registry::default()
        // receivers
        .with_receiver(ferrotel_receivers::otlp::OtlpReceiverFactory)
        // processors
        .with_processor(ferrotel_processors::batch::BatchProcessorFactory)
        .with_processor(ferrotel_processors::memory_limiter::MemoryLimiterFactory)
        .with_processor(ferrotel_processors::resource::ResourceProcessorFactory)
        .with_processor(ferrotel_processors::attributes::AttributesProcessorFactory)
        .with_processor(ferrotel_processors::probabilistic_sampler::ProbabilisticSamplerFactory)
        .with_processor(ferrotel_processors::redaction::RedactionProcessorFactory)
        .with_processor(ferrotel_processors::tail_sampling::TailSamplingProcessorFactory)
        // exporters
        .with_exporter(ferrotel_exporters::debug::DebugExporterFactory)
        .with_exporter(ferrotel_exporters::otlp::OtlpExporterFactory)
        .with_exporter(ferrotel_exporters::otlphttp::OtlpHttpExporterFactory)
        .with_exporter(ferrotel_exporters::prometheus::PrometheusExporterFactory)
        .with_exporter(ferrotel_exporters::jaeger::JaegerExporterFactory)
        .with_exporter(ferrotel_exporters::loadbalancing::LoadBalancingExporterFactory)
        // extensions
        .with_extension(ferrotel_extensions::health_check::HealthCheckFactory)
        .with_extension(ferrotel_extensions::bearertokenauth::BearerTokenAuthFactory)
        .with_extension(ferrotel_extensions::basicauth::BasicAuthFactory)
        .with_extension(ferrotel_extensions::file_storage::FileStorageFactory)
}
