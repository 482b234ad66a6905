// Everything an endpoint author includes: #include <treeflow/treeflow.h>
// Guide: docs/sdk.md. Wire protocol: docs/protocol.md.
#pragma once

#include "treeflow/app.h"
#include "treeflow/http.h"
#include "treeflow/server.h"
#include "treeflow/signature.h"
#include "treeflow/view.h"
#include "treeflow/workflow.h"
