// Binary log frames (docs/protocol.md, "Binary log frames"): a worker sends a step's log chunk
// zstd-compressed in a binary WebSocket message (or an AMQP message body) instead of a JSON
// "log" event, so that neither side escapes or parses the text and the master stores the
// compressed bytes as they came.
//
//   "GLF1" | u32 little-endian H | H bytes: the event's JSON header | one zstd frame
//
// The header is the "log" event without "data": {"type": "log", "id", "request", "attempt",
// "step", "seq"} (+ "worker" and "instance" over AMQP). The zstd frame holds the chunk's bytes
// with its content size; an empty chunk has no payload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

// The version of the worker link a hello and a welcome carry ("v"): 2 adds binary log frames.
// A worker sends them only to a master whose welcome says 2 or more; the master still takes
// JSON log events, so version 1 workers work as before. Jobs keep protocol.h's
// kProtocolVersion (1): a version 1 worker must still read them. 4 (kMergedEventsVersion): the
// master takes merged job.started / job.finished events.
inline constexpr int kLinkProtocolVersion = 4;

inline constexpr std::string_view kLogFrameMagic = "GLF1";
inline constexpr const char* kLogFrameContentType = "application/x-grove-log-frame";
// The largest header and decompressed chunk a master accepts (the worker's chunks are 64 KiB).
inline constexpr size_t kMaxLogFrameHeader = 4096;
inline constexpr size_t kMaxLogFrameRaw = 1 << 20;

// True when |bytes| starts like a log frame (AMQP: a body that is not JSON).
bool IsLogFrame(std::string_view bytes);

// |event| (a "log" event with "data") as a frame: its other fields become the header, "data" is
// compressed with zstd level 1.
Status EncodeLogFrame(const Json& event, std::string* out);

// A frame from the network → the "log" event it carries, checked like every event
// (CheckEvent), with "zdata" (binary: the zstd frame, as received), "raw_size" and "lines" in
// place of "data". The payload is decompressed once to prove it whole (a corrupt one is
// refused) and to count its lines. Errors name what is wrong; |*event| then holds what of the
// header could be read (its "id", to reject the event in order), or is null.
Status DecodeLogFrame(std::string_view frame, Json* event);

// The chunk of a decoded event's "zdata" (|raw_size| bytes), appended to |*out|.
Status DecompressLogData(std::string_view zdata, int64_t raw_size, std::string* out);

// A decoded frame's event as the JSON "log" event it stands for (with "data").
Status LogFrameToJsonEvent(std::string_view frame, Json* event);

}  // namespace grove
