//! The Rego policy (regorus): the default bundle in `assets/policies/`, a user bundle that
//! extends or replaces it, data files, evaluation of the decision entry point, and the
//! bundle's `test_` rules. A policy reads time only from `input.now`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::Verdict;
use super::tuning::Tuning;

pub const DEFAULT_LIB: &str = include_str!("../../assets/policies/lib.rego");
pub const DEFAULT_DRIFT: &str = include_str!("../../assets/policies/drift.rego");
pub const DEFAULT_TESTS: &str = include_str!("../../assets/policies/drift_test.rego");
pub use super::tuning::DEFAULT_DATA;

/// The rule every bundle must define.
pub const ENTRYPOINT: &str = "data.driftdeck.drift.decision";

/// The builtin bundle's files, as `print-default policy` shows them.
pub const DEFAULT_FILES: [(&str, &str); 4] = [
    ("lib.rego", DEFAULT_LIB),
    ("drift.rego", DEFAULT_DRIFT),
    ("drift_test.rego", DEFAULT_TESTS),
    ("data.json", DEFAULT_DATA),
];

/// A problem with a policy, located where possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}: {message}", file.as_deref().unwrap_or("policy"), line.map(|l| format!(":{l}")).unwrap_or_default(), rule.as_deref().map(|r| format!(" (rule {r})")).unwrap_or_default())]
pub struct PolicyError {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub rule: Option<String>,
    pub message: String,
}

impl PolicyError {
    fn plain(message: impl Into<String>) -> Self {
        PolicyError {
            file: None,
            line: None,
            rule: None,
            message: message.into(),
        }
    }

    /// From a regorus error, whose text carries `--> file:line:col` and `error: message`.
    fn from_regorus(e: &anyhow::Error, rule: Option<&str>) -> Self {
        let text = format!("{e:#}");
        let mut file = None;
        let mut line = None;
        for l in text.lines() {
            if let Some(loc) = l.trim().strip_prefix("--> ") {
                let mut parts = loc.rsplitn(3, ':');
                let _col = parts.next();
                line = parts.next().and_then(|n| n.parse().ok());
                file = parts.next().map(str::to_string);
                break;
            }
        }
        let message = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_string))
            .unwrap_or_else(|| text.trim().to_string());
        let message = if message.contains("TimeLimitExceeded") || message.contains("time limit") {
            "the policy took too long to evaluate (over 2 s): look for an unbounded iteration"
                .into()
        } else {
            message
        };
        PolicyError {
            file,
            line,
            rule: rule.map(str::to_string),
            message,
        }
    }
}

pub use crate::config::decide::{BundleMode, PolicyConfig};

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyResult {
    pub verdict: Verdict,
    /// The rule that decided.
    pub rule: String,
    pub reasons: Vec<String>,
    /// A hard verdict stands even when the advisor disagrees.
    pub hard: bool,
    /// Every finding of the default policy (other bundles may return none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Value>,
}

/// A loaded bundle, ready to evaluate.
#[derive(Clone)]
pub struct Bundle {
    engine: regorus::Engine,
    /// The decision compiled for regorus's virtual machine (about three times faster than the
    /// interpreter); `None` when the bundle uses something the compiler does not support, and
    /// then the interpreter decides.
    program: Option<std::sync::Arc<regorus::rvm::program::Program>>,
    data_value: regorus::Value,
    /// Test modules kept aside: loaded only for `policy test`.
    files: Vec<(String, String)>,
    tests: Vec<(String, String)>,
    pub data: Value,
    pub tuning: Tuning,
    /// Where it came from, for messages: `builtin`, or the directory.
    pub origin: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("origin", &self.origin)
            .finish()
    }
}

/// Deep merge: objects merge key by key, anything else is replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn read_data(path: &Path) -> Result<Value, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
        file: Some(path.display().to_string()),
        line: None,
        rule: None,
        message: format!("cannot read the data file: {e}"),
    })?;
    let is_yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
    let v: Value = if is_yaml {
        serde_yaml::from_str(&text).map_err(|e| PolicyError {
            file: Some(path.display().to_string()),
            line: e.location().map(|l| l.line()),
            rule: None,
            message: format!("the data file is not valid YAML: {e}"),
        })?
    } else {
        serde_json::from_str(&text).map_err(|e| PolicyError {
            file: Some(path.display().to_string()),
            line: Some(e.line()),
            rule: None,
            message: format!("the data file is not valid JSON: {e}"),
        })?
    };
    if !v.is_object() {
        return Err(PolicyError {
            file: Some(path.display().to_string()),
            line: None,
            rule: None,
            message: "a data file must hold an object at its top level".into(),
        });
    }
    Ok(v)
}

fn is_test_file(name: &str) -> bool {
    name.ends_with("_test.rego")
}

impl Bundle {
    /// The builtin bundle.
    pub fn builtin() -> Result<Bundle, PolicyError> {
        let files = vec![
            ("builtin/lib.rego".to_string(), DEFAULT_LIB.to_string()),
            ("builtin/drift.rego".to_string(), DEFAULT_DRIFT.to_string()),
        ];
        let tests = vec![(
            "builtin/drift_test.rego".to_string(),
            DEFAULT_TESTS.to_string(),
        )];
        let data: Value = serde_json::from_str(DEFAULT_DATA)
            .map_err(|e| PolicyError::plain(format!("the builtin policy data: {e}")))?;
        Bundle::assemble(files, tests, data, "builtin".into())
    }

    /// The bundle a config asks for: the builtin one, extended or replaced by a directory.
    pub fn load(cfg: &PolicyConfig) -> Result<Bundle, PolicyError> {
        let mode = cfg.mode.unwrap_or_default();
        let (mut files, mut tests, mut data) = match mode {
            BundleMode::Extend => {
                let b = Bundle::builtin()?;
                (b.files, b.tests, b.data)
            }
            BundleMode::Replace => (Vec::new(), Vec::new(), Value::Object(Default::default())),
        };
        let mut origin = "builtin".to_string();
        if let Some(dir) = &cfg.dir {
            origin = dir.display().to_string();
            let (f, t, d) = read_dir(dir)?;
            files.extend(f);
            tests.extend(t);
            for v in d {
                merge(&mut data, v);
            }
        } else if mode == BundleMode::Replace {
            return Err(PolicyError::plain(
                "policy mode is `replace` but no policy `dir` is set: name the bundle directory or use `extend`",
            ));
        }
        for p in &cfg.data {
            merge(&mut data, read_data(p)?);
        }
        Bundle::assemble(files, tests, data, origin)
    }

    /// Loads a bundle directory on its own (for `policy test DIR`): its data is merged over
    /// the builtin data so the tunables exist.
    pub fn from_dir(dir: &Path) -> Result<Bundle, PolicyError> {
        let (files, tests, datas) = read_dir(dir)?;
        let mut data: Value = serde_json::from_str(DEFAULT_DATA)
            .map_err(|e| PolicyError::plain(format!("the builtin policy data: {e}")))?;
        for v in datas {
            merge(&mut data, v);
        }
        Bundle::assemble(files, tests, data, dir.display().to_string())
    }

    fn assemble(
        files: Vec<(String, String)>,
        tests: Vec<(String, String)>,
        data: Value,
        origin: String,
    ) -> Result<Bundle, PolicyError> {
        let mut engine = regorus::Engine::new();
        engine.set_gather_prints(true);
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: Duration::from_secs(2),
            check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
        });
        for (name, text) in &files {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| PolicyError::from_regorus(&e, None))?;
        }
        engine
            .add_data(regorus::Value::from(data.clone()))
            .map_err(|e| PolicyError::from_regorus(&e, None))?;
        let tuning = match Tuning::from_data(&data) {
            Ok(t) => t,
            Err(e) => {
                return Err(PolicyError {
                    file: Some("data".into()),
                    line: None,
                    rule: None,
                    message: e,
                });
            }
        };
        let data_value = regorus::Value::from(data.clone());
        let mut b = Bundle {
            engine,
            program: None,
            data_value,
            files,
            tests,
            data,
            tuning,
            origin,
        };
        // The entry point must exist; evaluating it once also prepares the engine, so that the
        // clones made per evaluation start ready.
        let probe = serde_json::json!({});
        if let Err(e) = b.evaluate_value(&probe)
            && e.message.contains("not a valid rule path")
        {
            return Err(PolicyError {
                rule: Some(ENTRYPOINT.into()),
                message: format!(
                    "the bundle does not define {ENTRYPOINT}: a bundle must produce the decision there"
                ),
                ..e
            });
        }
        b.program = b.compile();
        Ok(b)
    }

    /// Compiles the entry point for the virtual machine, or explains in the log why not.
    fn compile(&self) -> Option<std::sync::Arc<regorus::rvm::program::Program>> {
        let mut engine = self.engine.clone();
        let entry: regorus::Rc<str> = ENTRYPOINT.into();
        let compiled = match engine.compile_with_entrypoint(&entry) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(origin = %self.origin, error = %e, "policy stays interpreted");
                return None;
            }
        };
        match regorus::languages::rego::compiler::Compiler::compile_from_policy(
            &compiled,
            &[ENTRYPOINT],
        ) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::info!(origin = %self.origin, error = %e, "policy stays interpreted");
                None
            }
        }
    }

    /// Whether decisions run on the compiled program (`false`: the interpreter).
    pub fn compiled(&self) -> bool {
        self.program.is_some()
    }

    /// An evaluator that owns its engine (one per thread).
    pub fn evaluator(&self) -> Evaluator {
        let vm = self.program.as_ref().and_then(|p| {
            let mut vm = regorus::rvm::vm::RegoVM::new();
            vm.load_program(p.clone());
            vm.set_max_instructions(usize::MAX / 2);
            vm.set_execution_timer_config(Some(regorus::utils::limits::ExecutionTimerConfig {
                limit: Duration::from_secs(2),
                check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
            }));
            vm.set_data(self.data_value.clone()).ok()?;
            Some(vm)
        });
        Evaluator {
            engine: self.engine.clone(),
            vm,
        }
    }

    /// An evaluator that always interprets (the reference the compiled program is checked
    /// against).
    pub fn interpreter(&self) -> Evaluator {
        Evaluator {
            engine: self.engine.clone(),
            vm: None,
        }
    }

    fn evaluate_value(&mut self, input: &Value) -> Result<regorus::Value, PolicyError> {
        let mut e = self.engine.clone();
        e.set_input(regorus::Value::from(input.clone()));
        e.eval_rule(ENTRYPOINT.to_string())
            .map_err(|err| PolicyError::from_regorus(&err, Some(ENTRYPOINT)))
    }

    /// The bundle's policy files (tests left out), as (name, source): what another engine
    /// loads to evaluate the same policy.
    pub fn modules(&self) -> &[(String, String)] {
        &self.files
    }

    /// The names of the bundle's files (tests included).
    pub fn file_names(&self) -> Vec<String> {
        self.files
            .iter()
            .chain(self.tests.iter())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Runs every `test_*` rule of the bundle (OPA's semantics: a test passes only when it is
    /// `true`; undefined or anything else fails; an error is an error).
    pub fn run_tests(&self) -> Result<Vec<TestResult>, PolicyError> {
        let mut engine = self.engine.clone();
        for (name, text) in &self.tests {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| PolicyError::from_regorus(&e, None))?;
        }
        let names = test_rules(&mut engine)?;
        let mut out = Vec::with_capacity(names.len());
        for (path, file, line) in names {
            let mut e = engine.clone();
            let start = Instant::now();
            let res = e.eval_rule(path.clone());
            let elapsed = start.elapsed();
            let outcome = match res {
                Ok(regorus::Value::Bool(true)) => TestOutcome::Pass,
                Ok(regorus::Value::Undefined) => TestOutcome::Fail("undefined".into()),
                Ok(other) => TestOutcome::Fail(format!("{other}")),
                Err(err) => {
                    TestOutcome::Error(PolicyError::from_regorus(&err, Some(&path)).to_string())
                }
            };
            out.push(TestResult {
                name: path,
                file,
                line,
                outcome,
                prints: e.take_prints().unwrap_or_default(),
                duration: elapsed,
            });
        }
        Ok(out)
    }
}

/// Reads a bundle directory (recursively): policies, tests and data files, sorted by path.
#[allow(clippy::type_complexity)]
fn read_dir(
    dir: &Path,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>, Vec<Value>), PolicyError> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| PolicyError {
            file: Some(d.display().to_string()),
            line: None,
            rule: None,
            message: format!("cannot read the policy directory: {e}"),
        })?;
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let mut files = Vec::new();
    let mut tests = Vec::new();
    let mut data = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name.ends_with(".rego") {
            let text = std::fs::read_to_string(&p).map_err(|e| PolicyError {
                file: Some(p.display().to_string()),
                line: None,
                rule: None,
                message: format!("cannot read the policy file: {e}"),
            })?;
            let entry = (p.display().to_string(), text);
            if is_test_file(&name) {
                tests.push(entry);
            } else {
                files.push(entry);
            }
        } else if matches!(name.as_str(), "data.json" | "data.yaml" | "data.yml") {
            data.push(read_data(&p)?);
        }
    }
    if files.is_empty() && tests.is_empty() {
        return Err(PolicyError {
            file: Some(dir.display().to_string()),
            line: None,
            rule: None,
            message: "no .rego files in the policy directory".into(),
        });
    }
    Ok((files, tests, data))
}

/// `(data.pkg.test_x, file, line)` for each test rule of the engine's modules.
fn test_rules(engine: &mut regorus::Engine) -> Result<Vec<(String, String, usize)>, PolicyError> {
    use regorus::unstable::{Parser, Rule, RuleHead};
    let packages = engine
        .get_packages()
        .map_err(|e| PolicyError::from_regorus(&e, None))?;
    let mut out: Vec<(String, String, usize)> = Vec::new();
    for (pkg, module) in packages.iter().zip(engine.get_modules().iter()) {
        for rule in &module.policy {
            let (refr, span) = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. },
                    span,
                    ..
                } => (refr, span),
                _ => continue,
            };
            let Ok(comps) = Parser::get_path_ref_components(refr) else {
                continue;
            };
            if let [name] = comps.as_slice() {
                let name = name.text();
                if name.starts_with("test_") {
                    let path = format!("{pkg}.{name}");
                    if !out.iter().any(|(p, _, _)| *p == path) {
                        out.push((path, span.source.get_path().to_string(), span.line as usize));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub outcome: TestOutcome,
    pub prints: Vec<String>,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    Pass,
    /// The value it had instead of `true`.
    Fail(String),
    Error(String),
}

/// Evaluates decisions with its own engine.
pub struct Evaluator {
    engine: regorus::Engine,
    vm: Option<regorus::rvm::vm::RegoVM>,
}

impl Evaluator {
    /// The decision document as the bundle writes it (`data.driftdeck.drift.decision`), by the
    /// interpreter: what `opa eval` prints for the same input and bundle.
    pub fn evaluate_raw(&mut self, input: &Value) -> Result<Value, PolicyError> {
        let v = self.interpret(input_value(input)?)?;
        if v == regorus::Value::Undefined {
            return Err(PolicyError::plain(format!(
                "{ENTRYPOINT} is undefined for this input (the bundle needs a default)"
            )));
        }
        serde_json::to_value(&v).map_err(|e| PolicyError::plain(e.to_string()))
    }

    pub fn evaluate(&mut self, input: &Value) -> Result<PolicyResult, PolicyError> {
        let value = input_value(input)?;
        if let Some(vm) = self.vm.as_mut() {
            vm.set_input(value.clone());
            match vm.execute() {
                Ok(v) => return parse_result(&v),
                // The interpreter gives errors with file and line; it decides this one.
                Err(e) => tracing::debug!(error = %e, "compiled policy failed; interpreting"),
            }
        }
        parse_result(&self.interpret(value)?)
    }

    /// The decision by the interpreter.
    fn interpret(&mut self, value: regorus::Value) -> Result<regorus::Value, PolicyError> {
        self.engine.set_input(value);
        let v = self
            .engine
            .eval_rule(ENTRYPOINT.to_string())
            .map_err(|err| PolicyError::from_regorus(&err, Some(ENTRYPOINT)))?;
        let _ = self.engine.take_prints();
        Ok(v)
    }
}

/// The input as regorus's value, straight from the borrowed JSON (no copy of the document
/// first).
fn input_value(input: &Value) -> Result<regorus::Value, PolicyError> {
    <regorus::Value as serde::Deserialize>::deserialize(input)
        .map_err(|e| PolicyError::plain(format!("the input document is not valid: {e}")))
}

/// Checks and reads the decision document.
fn parse_result(v: &regorus::Value) -> Result<PolicyResult, PolicyError> {
    let bad = |what: &str| PolicyError {
        file: None,
        line: None,
        rule: Some(ENTRYPOINT.into()),
        message: format!("the policy's decision is malformed: {what}"),
    };
    if *v == regorus::Value::Undefined {
        return Err(bad("it is undefined for this input (give it a default)"));
    }
    let json: Value = serde_json::to_value(v).map_err(|e| bad(&e.to_string()))?;
    let verdict = json
        .get("verdict")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`verdict` is missing or not a string"))?
        .parse::<Verdict>()
        .map_err(|e| bad(&e))?;
    let rule = json
        .get("rule")
        .and_then(Value::as_str)
        .unwrap_or(ENTRYPOINT)
        .to_string();
    let reasons = match json.get("reasons") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("`reasons` must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("`reasons` must be a list of strings")),
    };
    let hard = match json.get("hard") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("`hard` must be true or false")),
    };
    let findings = json
        .get("findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(PolicyResult {
        verdict,
        rule,
        reasons,
        hard,
        findings,
    })
}
