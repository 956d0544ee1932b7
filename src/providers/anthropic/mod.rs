//! Anthropic's Messages API (`anthropic/`): pure translation between OpenAI's chat format and
//! Anthropic's, requests, responses, streams and errors. Wiring into the request path follows.
