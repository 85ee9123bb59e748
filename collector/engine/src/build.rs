//! From a [`Document`] to the component graph, in named phases. Each phase adds what it finds
//! wrong to one list, so `validate` reports every problem at once; nothing is bound or started.
//!
//! 1. the registry has no clashes;
//! 2. extensions of `service.extensions` are created;
//! 3. every exporter, receiver and connector a pipeline uses is created (one instance per id);
//!    the sections no pipeline uses are only validated, as otelcol, which does not create them;
//! 4. each pipeline gets its own processor instances, and its outputs: an exporter's queue per
//!    (exporter, signal), or a connector;
//! 5. connectors are joined to their downstream pipelines; the graph must be acyclic, and each
//!    connector must join some pipeline it exports from to some pipeline it receives into;
//! 6. the extensions that used components refer to are collected, for [`crate::Service`] to
//!    check at start (otelcol resolves `auth.authenticator` at start, not in `validate`);
//! 7. receivers get one consumer per signal, and the shutdown order is fixed (upstream first).

use crate::connector::ConnectorNode;
use crate::exporter_runner::ExporterRunner;
use crate::pipeline::{Fanout, Output, Pipeline, Stage};
use ferrotel_config::{
    ConfigError, ConfigErrors, Document, ExtensionUse, Kind, PipelineConfig, PipelineId, Signal,
    Value,
};
use ferrotel_core::{
    Built, Catalog, ComponentId, Consumer, Consumers, CreateContext, Exporter, ExporterParts,
    Extension, FactoryInfo, MemoryBudget, Receiver, Registry, Telemetry,
};
use std::collections::BTreeMap;
use std::sync::Arc;

type Exporters = BTreeMap<ComponentId, (FactoryInfo, ExporterParts)>;
type Connectors = BTreeMap<ComponentId, (FactoryInfo, Arc<ConnectorNode>)>;
type Runners = BTreeMap<(ComponentId, Signal), Arc<ExporterRunner>>;

/// A receiver with the consumers of the pipelines it feeds.
pub(crate) struct ReceiverSlot {
    pub id: ComponentId,
    pub receiver: Box<dyn Receiver>,
    pub consumers: Consumers,
}

/// What shutdown flushes, in order: every node after all the nodes that feed it.
#[derive(Clone)]
pub(crate) enum Node {
    Pipeline(Arc<Pipeline>),
    Connector(Arc<ConnectorNode>),
}

/// The built graph, as [`crate::Service`] runs it.
pub(crate) struct Graph {
    pub extensions: Vec<(ComponentId, Box<dyn Extension>)>,
    pub exporters: Vec<(ComponentId, Arc<dyn Exporter>)>,
    pub runners: Vec<Arc<ExporterRunner>>,
    pub pipelines: Vec<Arc<Pipeline>>,
    pub connectors: Vec<Arc<ConnectorNode>>,
    pub receivers: Vec<ReceiverSlot>,
    /// Pipelines and connectors, upstream before downstream.
    pub flush_order: Vec<Node>,
    /// The extensions used components refer to, checked at start.
    pub extension_uses: Vec<ExtensionUse>,
}

pub(crate) struct GraphBuilder<'a> {
    doc: &'a Document,
    registry: &'a Registry,
    telemetry: Telemetry,
    budget: Arc<MemoryBudget>,
    errors: ConfigErrors,
}

/// Whether an exporter's section sets `sending_queue.queue_size`: such a queue is bounded by
/// that setting alone, outside the process-wide memory budget (explicit settings win).
fn sets_queue_size(section: Option<&Value>) -> bool {
    section
        .and_then(|s| s.get("sending_queue"))
        .and_then(|q| q.get("queue_size"))
        .is_some()
}

/// The id of `pid` as its config path (`service.pipelines.traces/2`).
fn pipeline_path(pid: &PipelineId) -> String {
    format!("service.pipelines.{pid}")
}

impl<'a> GraphBuilder<'a> {
    pub fn new(
        doc: &'a Document,
        registry: &'a Registry,
        telemetry: Telemetry,
        budget: Arc<MemoryBudget>,
    ) -> Self {
        GraphBuilder {
            doc,
            registry,
            telemetry,
            budget,
            errors: ConfigErrors::default(),
        }
    }

    /// Runs every phase; all problems or the graph.
    pub fn build(mut self) -> Result<Graph, ConfigErrors> {
        for problem in self.registry.problems() {
            self.errors.push(ConfigError::new("", problem.clone()));
        }
        self.warn_deprecated_aliases();
        let extensions = self.create_extensions();
        let registry = self.registry;
        let exporters = self.create_used(&registry.exporters);
        let receivers = self.create_used(&registry.receivers);
        let connectors = self.create_connectors();
        self.validate_processors();
        let mut runners = BTreeMap::new();
        let pipelines = self.build_pipelines(&exporters, &connectors, &mut runners);
        self.join_connectors(&connectors, &pipelines);
        let flush_order = self.flush_order(&pipelines, &connectors);
        let extension_uses = self.extension_uses();
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let receivers = feed_receivers(receivers, &pipelines, &self.telemetry);
        let used: Vec<&ComponentId> = runners.keys().map(|(id, _)| id).collect();
        let exporters = exporters
            .into_iter()
            .filter(|(id, _)| used.contains(&id))
            .map(|(id, (_, parts))| (id, parts.exporter))
            .collect();
        Ok(Graph {
            extensions,
            exporters,
            runners: runners.into_values().collect(),
            pipelines: pipelines.into_iter().map(|(p, _)| p).collect(),
            connectors: connectors.into_values().map(|(_, node)| node).collect(),
            receivers,
            flush_order,
            extension_uses,
        })
    }

    fn context(&self, kind: Kind, id: &ComponentId) -> CreateContext {
        CreateContext::new(kind, id.clone(), self.telemetry.clone())
    }

    /// Creates the component `id` of `kind` from its section with the factory its type
    /// selects; a problem is recorded and `None` returned.
    fn create<C: Built>(
        &mut self,
        catalog: &Catalog<C>,
        ctx: &CreateContext,
        raw: &Value,
    ) -> Option<(FactoryInfo, C)> {
        let Some(factory) = catalog.get(&ctx.id.type_name) else {
            self.errors.push(unknown_type(C::KIND, &ctx.id, catalog));
            return None;
        };
        match factory.create_from(ctx, raw) {
            Ok(c) => Some((factory.describe(), c)),
            Err(e) => {
                self.errors.extend(e);
                None
            }
        }
    }

    /// otelcol's warning for a type selected by a deprecated alias.
    fn warn_deprecated_aliases(&self) {
        let catalogs: [(Kind, Vec<FactoryInfo>); 5] = [
            (Kind::Receiver, self.registry.receivers.infos()),
            (Kind::Processor, self.registry.processors.infos()),
            (Kind::Exporter, self.registry.exporters.infos()),
            (Kind::Connector, self.registry.connectors.infos()),
            (Kind::Extension, self.registry.extensions.infos()),
        ];
        for (kind, infos) in catalogs {
            for (id, _) in self.doc.section(kind) {
                let t = id.type_name.as_str();
                if let Some(info) = infos.iter().find(|i| i.aliases.contains(&t)) {
                    tracing::warn!(
                        "{t:?} alias is deprecated; use {:?} instead",
                        info.type_name
                    );
                }
            }
        }
    }

    /// Phase 2: the extensions of `service.extensions`, in start order.
    fn create_extensions(&mut self) -> Vec<(ComponentId, Box<dyn Extension>)> {
        let mut out = Vec::new();
        for id in &self.doc.service.extensions {
            let Some(raw) = self.doc.get(Kind::Extension, id) else {
                continue;
            };
            let ctx = self.context(Kind::Extension, id);
            if let Some((_, e)) = self.create(&self.registry.extensions, &ctx, raw) {
                out.push((id.clone(), e));
            }
        }
        out
    }

    /// Phase 3: one instance per id of a section that some pipeline uses; the others are
    /// only validated.
    fn create_used<C: Built>(
        &mut self,
        catalog: &Catalog<C>,
    ) -> BTreeMap<ComponentId, (FactoryInfo, C)> {
        let doc = self.doc;
        let mut out = BTreeMap::new();
        for (id, raw) in doc.section(C::KIND) {
            let ctx = self.context(C::KIND, id);
            if !self.used(C::KIND, id) {
                self.validate_unused(catalog, &ctx, raw);
            } else if let Some(made) = self.create(catalog, &ctx, raw) {
                out.insert(id.clone(), made);
            }
        }
        out
    }

    /// Whether some pipeline lists `id` among its components of `kind` (a connector: as a
    /// receiver or an exporter).
    fn used(&self, kind: Kind, id: &ComponentId) -> bool {
        self.doc.service.pipelines.iter().any(|(_, pc)| match kind {
            Kind::Receiver => pc.receivers.contains(id),
            Kind::Exporter => pc.exporters.contains(id),
            Kind::Processor => pc.processors.contains(id),
            Kind::Connector => pc.receivers.contains(id) || pc.exporters.contains(id),
            Kind::Extension => self.doc.service.extensions.contains(id),
        })
    }

    /// Decodes and validates a section no pipeline uses, without creating it.
    fn validate_unused<C: Built>(
        &mut self,
        catalog: &Catalog<C>,
        ctx: &CreateContext,
        raw: &Value,
    ) {
        match catalog.get(&ctx.id.type_name) {
            None => self.errors.push(unknown_type(C::KIND, &ctx.id, catalog)),
            Some(f) => self
                .errors
                .extend(f.check(&ctx.path, raw).err().unwrap_or_default()),
        }
    }

    /// Connectors some pipeline uses, one instance per id; the others are only validated
    /// (as otelcol, which does not create them).
    fn create_connectors(&mut self) -> Connectors {
        let (doc, registry) = (self.doc, self.registry);
        let mut out = BTreeMap::new();
        for (id, raw) in &doc.connectors {
            let ctx = self.context(Kind::Connector, id);
            if !self.used(Kind::Connector, id) {
                self.validate_unused(&registry.connectors, &ctx, raw);
                continue;
            }
            if let Some((info, c)) = self.create(&registry.connectors, &ctx, raw) {
                let node = ConnectorNode::new(id.clone(), c, &ctx);
                out.insert(id.clone(), (info, Arc::new(node)));
            }
        }
        out
    }

    /// Processors are created per pipeline; here every section's type is checked, and one no
    /// pipeline uses is still validated.
    fn validate_processors(&mut self) {
        let (doc, registry) = (self.doc, self.registry);
        let used: Vec<&ComponentId> = doc
            .service
            .pipelines
            .iter()
            .flat_map(|(_, p)| &p.processors)
            .collect();
        for (id, raw) in &doc.processors {
            let ctx = self.context(Kind::Processor, id);
            match registry.processors.get(&id.type_name) {
                None => self
                    .errors
                    .push(unknown_type(Kind::Processor, id, &registry.processors)),
                Some(_) if !used.contains(&id) => {
                    self.create(&registry.processors, &ctx, raw);
                }
                Some(_) => {}
            }
        }
    }

    /// A problem when `info` (of the component `id` of `kind`) does not take `signal`.
    fn check_signal(
        &mut self,
        kind: Kind,
        id: &ComponentId,
        info: &FactoryInfo,
        pid: &PipelineId,
    ) -> bool {
        if info.supports(pid.signal) {
            return true;
        }
        self.errors.push(ConfigError::new(
            pipeline_path(pid),
            format!(
                "{} {:?} does not support {}",
                kind.singular(),
                id.to_string(),
                pid.signal
            ),
        ));
        false
    }

    /// Phase 4: each pipeline's processors and outputs. A pipeline with a problem is left out
    /// (the problem is recorded); each is returned with its config.
    fn build_pipelines(
        &mut self,
        exporters: &Exporters,
        connectors: &Connectors,
        runners: &mut Runners,
    ) -> Vec<(Arc<Pipeline>, &'a PipelineConfig)> {
        let doc = self.doc;
        let mut out = Vec::new();
        for (pid, pc) in &doc.service.pipelines {
            let stages = self.create_stages(pid, pc);
            let outputs = self.outputs(pid, pc, exporters, connectors, runners);
            let receivers_ok = self.check_receivers(pid, pc);
            if let (Some(stages), Some(outputs), true) = (stages, outputs, receivers_ok) {
                let partially_delivered = self.telemetry.counter(
                    "ferrotel_pipeline_partially_delivered_items",
                    "Items some outputs of the pipeline accepted while another refused them (the client sends them again).",
                    &[("pipeline", pid.to_string().as_str())],
                );
                let budget = self.budget.clone();
                let p = Pipeline::new(pid.clone(), stages, outputs, partially_delivered, budget);
                out.push((Arc::new(p), pc));
            }
        }
        out
    }

    fn create_stages(&mut self, pid: &PipelineId, pc: &PipelineConfig) -> Option<Vec<Stage>> {
        let (doc, registry) = (self.doc, self.registry);
        let mut stages = Vec::new();
        let mut ok = true;
        for id in &pc.processors {
            let (Some(factory), Some(raw)) = (
                registry.processors.get(&id.type_name),
                doc.get(Kind::Processor, id),
            ) else {
                ok = false;
                continue;
            };
            if !self.check_signal(Kind::Processor, id, &factory.describe(), pid) {
                ok = false;
                continue;
            }
            let ctx = self
                .context(Kind::Processor, id)
                .in_pipeline(pid.signal, pid.to_string());
            match factory.create_from(&ctx, raw) {
                Ok(processor) => stages.push(self.stage(id, pid.signal, processor, &ctx)),
                Err(e) => {
                    self.errors.extend(e);
                    ok = false;
                }
            }
        }
        ok.then_some(stages)
    }

    fn stage(
        &self,
        id: &ComponentId,
        signal: Signal,
        processor: Box<dyn ferrotel_core::Processor>,
        ctx: &CreateContext,
    ) -> Stage {
        let ids = id.to_string();
        let labels = [
            ("processor", ids.as_str()),
            ("otel.signal", signal.as_str()),
        ];
        Stage {
            processor,
            wake: ctx.wake.clone(),
            incoming: self.telemetry.counter(
                "otelcol_processor_incoming_items",
                "Number of items passed to the processor.",
                &labels,
            ),
            outgoing: self.telemetry.counter(
                "otelcol_processor_outgoing_items",
                "Number of items emitted from the processor.",
                &labels,
            ),
        }
    }

    /// A pipeline's outputs: a queue per (exporter, signal), shared by the pipelines of that
    /// signal, or a connector.
    fn outputs(
        &mut self,
        pid: &PipelineId,
        pc: &PipelineConfig,
        exporters: &Exporters,
        connectors: &Connectors,
        runners: &mut Runners,
    ) -> Option<Vec<Output>> {
        let mut outputs = Vec::new();
        let mut ok = true;
        for id in &pc.exporters {
            if let Some((_, node)) = connectors.get(id) {
                outputs.push(Output::Connector(node.clone()));
                continue;
            }
            let Some(slot) = exporters.get(id) else {
                ok = false;
                continue;
            };
            if !self.check_signal(Kind::Exporter, id, &slot.0, pid) {
                ok = false;
                continue;
            }
            let parts = &slot.1;
            let key = (id.clone(), pid.signal);
            if !runners.contains_key(&key) {
                if let Err(problem) = parts.exporter.accepts(pid.signal) {
                    let path = format!("{}.{id}", Kind::Exporter.section());
                    self.errors.push(ConfigError::new(path, problem));
                    ok = false;
                    continue;
                }
            }
            let runner = runners.entry(key).or_insert_with(|| {
                let runner = ExporterRunner::new(
                    id.clone(),
                    pid.signal,
                    parts.exporter.clone(),
                    parts.settings.clone(),
                    &self.telemetry,
                );
                if !sets_queue_size(self.doc.get(Kind::Exporter, id)) {
                    runner.use_budget(self.budget.clone());
                }
                runner
            });
            outputs.push(Output::Exporter(runner.clone()));
        }
        ok.then_some(outputs)
    }

    fn check_receivers(&mut self, pid: &PipelineId, pc: &PipelineConfig) -> bool {
        let mut ok = true;
        for id in &pc.receivers {
            let Some(factory) = self.registry.receivers.get(&id.type_name) else {
                continue;
            };
            if self.doc.get(Kind::Receiver, id).is_some() {
                ok &= self.check_signal(Kind::Receiver, id, &factory.describe(), pid);
            }
        }
        ok
    }
}

impl GraphBuilder<'_> {
    /// Phase 5: each connector's downstream pipelines, and otelcol's checks that it joins
    /// some upstream pipeline to some downstream one of a signal pair it supports.
    fn join_connectors(
        &mut self,
        connectors: &Connectors,
        pipelines: &[(Arc<Pipeline>, &PipelineConfig)],
    ) {
        let all = &self.doc.service.pipelines;
        for (id, (info, node)) in connectors {
            let from: Vec<&PipelineId> = all
                .iter()
                .filter(|(_, pc)| pc.exporters.contains(id))
                .map(|(p, _)| p)
                .collect();
            let to: Vec<&PipelineId> = all
                .iter()
                .filter(|(_, pc)| pc.receivers.contains(id))
                .map(|(p, _)| p)
                .collect();
            for f in &from {
                if !to.iter().any(|t| info.joins(f.signal, t.signal)) {
                    self.errors.push(ConfigError::new(
                        pipeline_path(f),
                        format!("connector {:?} used as exporter in {} pipeline but not used in any supported receiver pipeline", id.to_string(), f.signal),
                    ));
                }
            }
            for t in &to {
                if !from.iter().any(|f| info.joins(f.signal, t.signal)) {
                    self.errors.push(ConfigError::new(
                        pipeline_path(t),
                        format!("connector {:?} used as receiver in {} pipeline but not used in any supported exporter pipeline", id.to_string(), t.signal),
                    ));
                }
            }
            let upstream: Vec<PipelineId> = from.into_iter().cloned().collect();
            let names: Vec<PipelineId> = to.into_iter().cloned().collect();
            if let Err(message) = node.check_pipelines(&upstream, &names) {
                self.errors.push(ConfigError::new(
                    format!("{}.{id}", Kind::Connector.section()),
                    message,
                ));
            }
            let downstream = pipelines
                .iter()
                .filter(|(_, pc)| pc.receivers.contains(id))
                .map(|(p, _)| p.clone())
                .collect();
            node.set_downstream(downstream);
        }
    }

    /// Pipelines and connectors in an order where each comes after everything that feeds it
    /// (Kahn's algorithm); a cycle through connectors is a problem.
    fn flush_order(
        &mut self,
        pipelines: &[(Arc<Pipeline>, &PipelineConfig)],
        connectors: &Connectors,
    ) -> Vec<Node> {
        let mut nodes: Vec<Node> = pipelines
            .iter()
            .map(|(p, _)| Node::Pipeline(p.clone()))
            .collect();
        nodes.extend(connectors.values().map(|(_, c)| Node::Connector(c.clone())));
        let index_of = |n: &Node| nodes.iter().position(|m| m.same(n));
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            for next in n.feeds() {
                if let Some(j) = index_of(&next) {
                    edges.push((i, j));
                }
            }
        }
        let mut incoming = vec![0usize; nodes.len()];
        for &(_, j) in &edges {
            incoming[j] += 1;
        }
        let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| incoming[i] == 0).collect();
        let mut order = Vec::with_capacity(nodes.len());
        while let Some(i) = ready.pop() {
            order.push(nodes[i].clone());
            for &(_, j) in edges.iter().filter(|(from, _)| *from == i) {
                incoming[j] -= 1;
                if incoming[j] == 0 {
                    ready.push(j);
                }
            }
        }
        if order.len() < nodes.len() {
            let stuck: Vec<String> = (0..nodes.len())
                .filter(|&i| incoming[i] > 0)
                .map(|i| nodes[i].name())
                .collect();
            self.errors.push(ConfigError::new(
                "service.pipelines",
                format!("cycle detected: {}", stuck.join(" -> ")),
            ));
        }
        order
    }

    /// The extension references of every component a pipeline uses, each component once.
    fn extension_uses(&self) -> Vec<ExtensionUse> {
        let (doc, registry) = (self.doc, self.registry);
        let mut seen: Vec<(Kind, &ComponentId)> = Vec::new();
        for (_, pc) in &doc.service.pipelines {
            let listed = [
                (Kind::Receiver, &pc.receivers),
                (Kind::Processor, &pc.processors),
                (Kind::Exporter, &pc.exporters),
            ];
            for (kind, ids) in listed {
                for id in ids {
                    let kind = if doc.get(Kind::Connector, id).is_some() {
                        Kind::Connector
                    } else {
                        kind
                    };
                    if !seen.contains(&(kind, id)) {
                        seen.push((kind, id));
                    }
                }
            }
        }
        let mut uses = Vec::new();
        for (kind, id) in seen {
            let Some(raw) = doc.get(kind, id) else {
                continue;
            };
            let path = format!("{}.{id}", kind.section());
            let checked = registry.check(kind, &id.type_name, &path, raw);
            // A config that does not decode was reported when it was created.
            if let Some(Ok(found)) = checked {
                uses.extend(found);
            }
        }
        uses
    }
}

/// Phase 7: each used receiver with one consumer per signal (a fan-out when it feeds several
/// pipelines of that signal).
fn feed_receivers(
    receivers: BTreeMap<ComponentId, (FactoryInfo, Box<dyn Receiver>)>,
    pipelines: &[(Arc<Pipeline>, &PipelineConfig)],
    telemetry: &Telemetry,
) -> Vec<ReceiverSlot> {
    let consumer = |id: &ComponentId, signal: Signal| -> Option<Arc<dyn Consumer>> {
        let mut fed: Vec<Arc<Pipeline>> = pipelines
            .iter()
            .filter(|(p, pc)| p.id.signal == signal && pc.receivers.contains(id))
            .map(|(p, _)| p.clone())
            .collect();
        match fed.len() {
            0 => None,
            1 => fed.pop().map(|p| p as Arc<dyn Consumer>),
            _ => Some(Arc::new(Fanout {
                pipelines: fed,
                partially_delivered: telemetry.counter(
                    "ferrotel_receiver_partially_delivered_items",
                    "Items some pipelines fed by the receiver accepted while another refused them (the client sends them again).",
                    &[("receiver", id.to_string().as_str())],
                ),
            })),
        }
    };
    receivers
        .into_iter()
        .filter_map(|(id, (_, receiver))| {
            let consumers = Consumers {
                traces: consumer(&id, Signal::Traces),
                metrics: consumer(&id, Signal::Metrics),
                logs: consumer(&id, Signal::Logs),
                profiles: consumer(&id, Signal::Profiles),
            };
            let used = consumers.traces.is_some()
                || consumers.metrics.is_some()
                || consumers.logs.is_some()
                || consumers.profiles.is_some();
            used.then_some(ReceiverSlot {
                id,
                receiver,
                consumers,
            })
        })
        .collect()
}

impl Node {
    fn same(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Pipeline(a), Node::Pipeline(b)) => Arc::ptr_eq(a, b),
            (Node::Connector(a), Node::Connector(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The nodes this one sends data to.
    fn feeds(&self) -> Vec<Node> {
        match self {
            Node::Pipeline(p) => p
                .outputs()
                .iter()
                .filter_map(|o| match o {
                    Output::Connector(c) => Some(Node::Connector(c.clone())),
                    Output::Exporter(_) => None,
                })
                .collect(),
            Node::Connector(c) => c
                .downstream()
                .iter()
                .map(|p| Node::Pipeline(p.clone()))
                .collect(),
        }
    }

    fn name(&self) -> String {
        match self {
            Node::Pipeline(p) => format!("pipeline {:?}", p.id.to_string()),
            Node::Connector(c) => format!("connector {:?}", c.id.to_string()),
        }
    }
}

/// An unknown type, with the valid ones listed as otelcol does.
fn unknown_type<C>(kind: Kind, id: &ComponentId, catalog: &Catalog<C>) -> ConfigError {
    ConfigError::new(
        format!("{}.{id}", kind.section()),
        format!(
            "unknown type {:?} for id {:?} (valid values: [{}])",
            id.type_name,
            id.to_string(),
            catalog.type_names().join(" ")
        ),
    )
}
