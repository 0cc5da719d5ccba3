//! Claude Code transcripts: parsing JSONL session files into messages, tool calls and usage.
