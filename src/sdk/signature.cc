// X-Workflow-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>.
#include "treeflow/signature.h"

#include <cctype>
#include <cstdlib>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace treeflow {
namespace {

std::string hmac_hex(std::string_view secret, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string sign_payload(std::string_view secret, std::int64_t unix_time,
                         std::string_view body) {
  std::string t = std::to_string(unix_time);
  std::string msg = t + "." + std::string(body);
  return "t=" + t + ",v1=" + hmac_hex(secret, msg);
}

std::string verify_signature(std::string_view header, std::string_view body,
                             std::string_view secret, int tolerance_s,
                             std::int64_t now_unix) {
  header = trim(header);
  if (header.empty()) return "missing X-Workflow-Signature header";
  const std::string malformed =
      "malformed X-Workflow-Signature header (expected t=<unix seconds>,v1=<hex>)";
  std::string_view t;
  std::vector<std::string_view> v1s;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return malformed;
    std::string_view key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    if (key == "t") t = value;
    else if (key == "v1") v1s.push_back(value);
    // other schemes (v0, v2, ...) are ignored
  }
  if (t.empty() || v1s.empty() || t.size() > 18) return malformed;
  for (char c : t)
    if (!std::isdigit(static_cast<unsigned char>(c))) return malformed;
  std::int64_t ts = std::strtoll(std::string(t).c_str(), nullptr, 10);
  std::int64_t skew = now_unix - ts;
  if (skew > tolerance_s || -skew > tolerance_s)
    return "X-Workflow-Signature timestamp is " + std::to_string(skew < 0 ? -skew : skew) +
           " s away from this server's clock (tolerance " + std::to_string(tolerance_s) +
           " s)";
  std::string expected = hmac_hex(secret, std::string(t) + "." + std::string(body));
  bool ok = false;
  for (auto v : v1s) {
    if (v.size() != expected.size()) continue;
    std::string lower(v);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (CRYPTO_memcmp(lower.data(), expected.data(), expected.size()) == 0) ok = true;
  }
  if (!ok) return "X-Workflow-Signature does not match the body (check the signing secret)";
  return "";
}

}  // namespace treeflow
