// Everything an endpoint author includes: #include <treeflow/treeflow.h>
#pragma once

#include "treeflow/app.h"
#include "treeflow/http.h"
#include "treeflow/server.h"
#include "treeflow/view.h"
#include "treeflow/workflow.h"
