// Mounting a treeflow App inside another HTTP server: cpp-httplib.
//
// App::handle(HttpRequest) -> HttpResponse is framework-neutral; all a host
// server has to do is translate its request and response types. This is the
// whole adapter for cpp-httplib (Debian: libcpp-httplib-dev).
//
//   ./sdk_httplib 127.0.0.1 9001
//   curl -X POST localhost:9001/greet -d '{"names": ["ada", "alan"]}'   # direct call:
//       # registers a run with the engine at $TREEFLOW_ENGINE_URL, then answers
//       # with X-Workflow-Run-Id; the engine then calls POST /greet/one per name.
#include <httplib.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <string>

#include <treeflow/treeflow.h>

namespace {

// Fans out: one /greet/one task per name.
struct Greet {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    const auto& body = r.json();
    if (!body.is_object() || !body.as_object().contains("names"))
      throw treeflow::BadRequest(R"(expected {"names": [...]})");
    return treeflow::Response::json(body.at("names"));
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    c.immediate_next.push_back(treeflow::next("/greet/one").each());
    return c;
  }
};

// A leaf of the tree: greets one name.
struct GreetOne {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    const auto& name = r.json();
    std::string who = name.is_string() ? std::string(name.as_string()) : "someone";
    return treeflow::Response::json({{"greeting", "hello " + who}});
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    return treeflow::default_complete_data(r, res);
  }
};

bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// httplib decodes the path and splits the query into a map; App::handle wants
// the target as sent, so re-encode it (parameter order becomes sorted).
std::string encode(const std::string& s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string target_of(const httplib::Request& req) {
  std::string target = encode(req.path, true);
  char sep = '?';
  for (const auto& [k, v] : req.params) {
    target += sep;
    target += encode(k, false) + "=" + encode(v, false);
    sep = '&';
  }
  return target;
}

// The adapter: httplib request -> treeflow::HttpRequest -> App::handle -> back.
httplib::Server::Handler mount(const treeflow::App& app) {
  return [&app](const httplib::Request& req, httplib::Response& res) {
    treeflow::HttpRequest in;
    in.method = req.method;
    in.target = target_of(req);
    for (const auto& [k, v] : req.headers) {
      // httplib adds the peer's address as pseudo-headers; they are not
      // part of the request.
      if (k == "REMOTE_ADDR" || k == "REMOTE_PORT" || k == "LOCAL_ADDR" || k == "LOCAL_PORT")
        continue;
      in.headers.emplace_back(k, v);
    }
    in.body = req.body;

    treeflow::HttpResponse out = app.handle(in);  // never throws

    res.status = out.status;
    std::string content_type = "application/json";
    for (const auto& [k, v] : out.headers) {
      if (iequals(k, "Content-Type"))
        content_type = v;
      else
        res.set_header(k, v);
    }
    res.set_content(out.body, content_type);
  };
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = argc > 1 ? argv[1] : "127.0.0.1";
  int port = argc > 2 ? std::atoi(argv[2]) : 9001;

  treeflow::App app;  // Options::from_env(): TREEFLOW_ENGINE_URL, TREEFLOW_SIGNING_SECRET, ...
  app.route<Greet>("POST", "/greet");
  app.route<GreetOne>("POST", "/greet/one");
  app.plain("GET", "/healthz", [](const treeflow::HttpRequest&) {
    return treeflow::HttpResponse{200, {{"Content-Type", "text/plain"}}, "ok"};
  });

  httplib::Server server;
  auto handler = mount(app);
  // Every path goes to the App, which answers 404/405 itself.
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);

  std::cerr << "sdk_httplib: listening on " << host << ":" << port
            << " (engine: " << app.options().engine_url << ")\n";
  if (!server.listen(host, port)) {
    std::cerr << "sdk_httplib: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  return 0;
}
