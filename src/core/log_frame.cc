#include "core/log_frame.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/json_fields.h"
#include "core/utf8.h"
#include "core/worker_messages.h"

namespace grove {
namespace {

// Level 1: the worker compresses on the step's critical path, so speed matters more than the
// last few percent of size (the same trade as the store's, log_codec.cc).
constexpr int kLevel = 1;

struct FreeCCtx {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct FreeDCtx {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread, reused: making one per chunk costs more than compressing a chunk.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, FreeCCtx> c{ZSTD_createCCtx()};
  return c.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, FreeDCtx> d{ZSTD_createDCtx()};
  return d.get();
}

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << (8 * i);
  return v;
}

Status Refused(const std::string& why) {
  return Status::Invalid("malformed log frame: " + why);
}

// Splits |frame| into its header (parsed) and payload.
Status SplitFrame(std::string_view frame, Json* header, std::string_view* payload) {
  *header = nullptr;
  if (!IsLogFrame(frame)) return Refused("it does not start with \"GLF1\"");
  if (frame.size() < 8) return Refused("truncated header length");
  const uint32_t h = GetU32(frame.substr(4, 4));
  if (h == 0 || h > kMaxLogFrameHeader)
    return Refused("header length " + std::to_string(h) + " is not between 1 and " +
                   std::to_string(kMaxLogFrameHeader));
  if (frame.size() - 8 < h) return Refused("truncated header");
  Json parsed = ParseUntrusted(frame.substr(8, h));
  if (parsed.is_discarded() || !parsed.is_object())
    return Refused("the header is not a JSON object");
  *header = std::move(parsed);
  *payload = frame.substr(8 + h);
  return Status::Ok();
}

Status CheckHeader(const Json& header) {
  GROVE_RETURN_IF_ERROR(CheckEvent(header));
  JsonFields f(header, "log frame header");
  std::string type;
  f.Str("type", &type, Need::kRequired)
      .CheckInt("request", 0, INT64_MAX, Need::kRequired)
      .CheckInt("attempt", 0, INT32_MAX, Need::kRequired)
      .CheckInt("step", 0, INT32_MAX, Need::kRequired)
      .CheckInt("seq", 0, INT64_MAX, Need::kRequired);
  if (f.ok() && type != event::kLog) f.Fail("'type' must be \"log\", not \"" + type + "\"");
  if (f.ok() && header.contains("data")) f.Fail("'data' belongs in the payload, not the header");
  return f.status();
}

// The content size of the one zstd frame |payload| must be, checked without decompressing.
Status PayloadSize(std::string_view payload, int64_t* raw_size) {
  *raw_size = 0;
  if (payload.empty()) return Status::Ok();
  const unsigned long long size = ZSTD_getFrameContentSize(payload.data(), payload.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Refused("the payload is not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) return Refused("the zstd frame does not say its size");
  if (size > kMaxLogFrameRaw)
    return Refused("the chunk has " + std::to_string(size) + " bytes, more than " +
                   std::to_string(kMaxLogFrameRaw));
  const size_t compressed = ZSTD_findFrameCompressedSize(payload.data(), payload.size());
  if (ZSTD_isError(compressed) || compressed != payload.size())
    return Refused("the payload is not exactly one whole zstd frame");
  *raw_size = static_cast<int64_t>(size);
  return Status::Ok();
}

}  // namespace

bool IsLogFrame(std::string_view bytes) {
  return bytes.size() >= kLogFrameMagic.size() &&
         bytes.substr(0, kLogFrameMagic.size()) == kLogFrameMagic;
}

Status EncodeLogFrame(const Json& event, std::string* out) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (!cctx) return Status::IoError("zstd: cannot create a compression context");
  if (!event.is_object()) return Status::Invalid("log event: not an object");
  Json header = Json::object();
  std::string_view data;
  for (auto it = event.begin(); it != event.end(); ++it) {
    if (it.key() != "data") {
      header[it.key()] = *it;
    } else if (it->is_string()) {
      data = it->get_ref<const std::string&>();
    } else {
      return Status::Invalid("log event: 'data' must be a string");
    }
  }
  // What the JSON encoding does to a chunk (the protocol's logs are UTF-8), done here.
  std::string repaired;
  if (!IsValidUtf8(data)) {
    repaired = data;
    Utf8Repair(&repaired);
    data = repaired;
  }
  const std::string h = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (h.size() > kMaxLogFrameHeader) return Status::Invalid("log frame header too long");
  out->clear();
  out->append(kLogFrameMagic);
  PutU32(static_cast<uint32_t>(h.size()), out);
  out->append(h);
  if (data.empty()) return Status::Ok();
  // Compressed into the thread's scratch buffer, then copied: |out| must not keep the capacity
  // of the compression bound (64 KiB for a chunk that compresses to 500 bytes), as it may wait
  // in the worker's outbox with thousands of others.
  thread_local std::string scratch;
  scratch.resize(ZSTD_compressBound(data.size()));
  const size_t n =
      ZSTD_compressCCtx(cctx, scratch.data(), scratch.size(), data.data(), data.size(), kLevel);
  if (ZSTD_isError(n)) {
    out->clear();
    return Status::IoError(std::string("zstd: cannot compress a log chunk: ") +
                           ZSTD_getErrorName(n));
  }
  out->reserve(out->size() + n);
  out->append(scratch, 0, n);
  return Status::Ok();
}

Status DecompressLogData(std::string_view zdata, int64_t raw_size, std::string* out) {
  if (raw_size == 0 && zdata.empty()) return Status::Ok();
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (!dctx) return Status::IoError("zstd: cannot create a decompression context");
  int64_t size = 0;
  GROVE_RETURN_IF_ERROR(PayloadSize(zdata, &size));
  if (size != raw_size) return Refused("the zstd frame's size is not the chunk's");
  const size_t old = out->size();
  out->resize(old + static_cast<size_t>(size));
  const size_t n = ZSTD_decompressDCtx(dctx, out->data() + old, static_cast<size_t>(size),
                                       zdata.data(), zdata.size());
  if (ZSTD_isError(n) || n != static_cast<size_t>(size)) {
    out->resize(old);
    return Refused(std::string("corrupt zstd payload: ") +
                   (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return Status::Ok();
}

Status DecodeLogFrame(std::string_view frame, Json* event) {
  std::string_view payload;
  GROVE_RETURN_IF_ERROR(SplitFrame(frame, event, &payload));
  GROVE_RETURN_IF_ERROR(CheckHeader(*event));
  int64_t raw_size = 0;
  GROVE_RETURN_IF_ERROR(PayloadSize(payload, &raw_size));
  // Decompressed once, here, so that a corrupt chunk is refused now rather than found when
  // someone reads the log; the buffer is the thread's, reused.
  thread_local std::string plain;
  plain.clear();
  GROVE_RETURN_IF_ERROR(DecompressLogData(payload, raw_size, &plain));
  (*event)["zdata"] = Json::binary(Json::binary_t::container_type(payload.begin(), payload.end()));
  (*event)["raw_size"] = raw_size;
  (*event)["lines"] = static_cast<int64_t>(std::count(plain.begin(), plain.end(), '\n'));
  return Status::Ok();
}

Status LogFrameToJsonEvent(std::string_view frame, Json* event) {
  std::string_view payload;
  GROVE_RETURN_IF_ERROR(SplitFrame(frame, event, &payload));
  GROVE_RETURN_IF_ERROR(CheckHeader(*event));
  int64_t raw_size = 0;
  GROVE_RETURN_IF_ERROR(PayloadSize(payload, &raw_size));
  std::string data;
  GROVE_RETURN_IF_ERROR(DecompressLogData(payload, raw_size, &data));
  (*event)["data"] = std::move(data);
  return Status::Ok();
}

}  // namespace grove
