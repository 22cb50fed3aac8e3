// Workflows: DAGs of stages, instantiated from templates (files in workflows/*.json).
//
// A template names its parameters and its stages. Each stage runs one service with an environment
// (values may use placeholders, below); a stage with an `output` writes a topic of its own, a stage
// with `inputs` reads the outputs of those stages. How a stage starts:
//   "after"      (default) once every stage in `inputs` and `after` has finished;
//   "alongside"  once every stage in `inputs` has started (a connector consumes while its loader
//                produces, then finishes by the upstream hand-off, docs/connector.md); stages
//                in `after` must still have finished.
//
// Naming scheme (one place, here):
//   queue_id    <template>-<symbol lower>-<from as yyyymmdd>-<6 random [a-z0-9]>
//               e.g. historical-load-btcusdt-20200701-k3x9q2 (no symbol/date: left out)
//   topic       <queue_id>-<stage output>, e.g. historical-load-btcusdt-20200701-k3x9q2-candles-5m:
//               one topic per stage output, never one topic for a whole pipeline
//   collection  <symbol lower>_<kind>_<interval>_<from as yyyy_mm_dd> as the original
//               (btcusdt_api_candles_5m_2020_07_01), from the template's COLLECTION_NAME
//   producer    <service>__<stage>__a<attempt> (TELEMETRY_PRODUCER_ID): telemetry -> stage
//   group       <service>-<queue_id>-<stage> (CONSUMER_GROUP) for every stage with inputs
//
// Placeholders in env values: {queue_id} {symbol} {symbol_lower} {from} {to} {from_us} (2020_07_01)
// {interval} and any request parameter {name}.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace sf::services::qm {

enum class StartMode : std::uint8_t { kAfter, kAlongside };

struct StageTemplate {
  std::string name;
  std::string service;
  std::map<std::string, std::string> env;  // values with placeholders
  std::string output;                      // "" when the stage writes no topic
  std::vector<std::string> inputs;         // stages whose outputs it reads
  std::vector<std::string> after;          // extra stages that must have finished
  StartMode start = StartMode::kAfter;
};

struct ParameterSpec {
  bool required = false;
  std::string default_value;
  std::string help;
};

struct WorkflowTemplate {
  std::string name;
  std::string description;
  std::map<std::string, ParameterSpec> parameters;
  std::vector<StageTemplate> stages;
};

// Parses and checks a template (unknown stage references, cycles, duplicate names, bad keys).
Result<WorkflowTemplate, std::string> parse_template(std::string_view json);
// Every *.json in `dir`, by template name.
Result<std::map<std::string, WorkflowTemplate>, std::string> load_templates(const std::string& dir);
// Where the templates are: QM_WORKFLOWS_DIR, else ./workflows, else <repo>/workflows beside the
// binary's build tree; "" when none is found.
std::string default_workflows_dir();

// One stage of an instantiated workflow, with its run state.
struct Stage {
  std::string name;
  std::string service;
  std::map<std::string, std::string> env;  // complete, placeholders resolved
  std::string output_topic;
  std::vector<std::string> inputs;
  std::vector<std::string> after;
  StartMode start = StartMode::kAfter;
  // Run state.
  std::string status = "pending";  // pending | starting | running | finished | failed | interrupted
  int attempt = 0;                 // runs started so far
  std::string handle;              // the launcher's handle of the current run
  std::string producer;            // TELEMETRY_PRODUCER_ID of the current run
  std::int64_t records_written = 0;
  std::string message;       // last telemetry message / failure reason
  double last_event_at = 0;  // unix seconds of the last telemetry of the current run
  double started_at = 0;
  double next_attempt_at = 0;  // self-healing backoff
};

struct Workflow {
  std::string queue_id;
  std::string template_name;
  std::map<std::string, std::string> params;  // symbol, from, to, interval, ...
  std::vector<Stage> stages;
  std::string status = "pending";  // pending | running | finished | failed | interrupted
  std::string message;
  double created_at = 0;
  double updated_at = 0;
  bool stop_requested = false;

  Stage* stage(std::string_view name);
  const Stage* stage(std::string_view name) const;
};

// A start request: template + parameters (symbol, from, to, interval, any other the template
// declares). Unknown parameters and missing required ones are errors naming them. Credentials in
// `base_env` are left out of the stages' environments; a template value that would carry one is
// an error.
Result<Workflow, std::string> instantiate(const WorkflowTemplate& t,
                                          const std::map<std::string, std::string>& params,
                                          const std::map<std::string, std::string>& base_env,
                                          const std::string& queue_id = "");

// The workflow as JSON (the store keeps it as WorkflowState::definition; the API returns it).
std::string to_json(const Workflow& w);
Result<Workflow, std::string> workflow_from_json(std::string_view json);

// Removes every credential from the stages' environments (runtime::is_secret by name or value);
// returns how many entries went. Records written before credentials were kept out of stage
// environments are scrubbed with it when a manager starts.
int scrub_secrets(Workflow& w);

bool is_terminal_stage_status(std::string_view s);

}  // namespace sf::services::qm
