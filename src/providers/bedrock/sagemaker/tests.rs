//! SageMaker: TGI request mapping, answers, simulated streaming, signed invocations.

use super::super::tests::{assert_signed, body, call, creds, deployment, KEYS};
use super::*;

const TGI: &str = include_str!("../../../../tests/fixtures/bedrock/tgi_response.json");

fn messages() -> Value {
    json!([
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}
    ])
}

#[test]
fn tgi_request_joins_messages_and_maps_parameters() {
    let req = json!({"model": "m", "messages": messages(), "max_tokens": 0, "temperature": 0,
                     "top_p": 0.9, "stop": "\n", "n": 2, "stream": true, "user": "u"});
    assert_eq!(
        to_tgi_request(&req, false).unwrap(),
        json!({
            "inputs": "You answer in one sentence. Capital of France?",
            "parameters": {"max_new_tokens": 1, "temperature": 0.01, "top_p": 0.9,
                           "stop": ["\n"], "best_of": 2, "do_sample": true, "details": true}
        })
    );
    let minimal = to_tgi_request(&json!({"messages": messages()}), false).unwrap();
    assert_eq!(minimal["parameters"], json!({"details": true}));
}

#[test]
fn tgi_refuses_what_it_cannot_do_unless_dropped() {
    let req = json!({"model": "tgi", "messages": messages(), "tools": [], "seed": 1});
    let err = to_tgi_request(&req, false).err().unwrap();
    assert_eq!(err.param.as_deref(), Some("seed"));
    assert!(err
        .message
        .starts_with("litellm.UnsupportedParamsError: sagemaker does not support parameters: ['seed', 'tools'], for model=tgi."));
    assert!(to_tgi_request(&req, true).is_ok());
}

#[test]
fn tgi_answers_become_chat_completions() {
    let out = tgi_to_openai(&serde_json::from_str(TGI).unwrap(), "prompt", "my-tgi", 7);
    assert_eq!(out["model"], "my-tgi");
    assert_eq!(out["created"], 7);
    assert_eq!(
        out["choices"][0]["message"],
        json!({"role": "assistant", "content": " Paris is the capital of France."})
    );
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(out["usage"]["completion_tokens"], 8);

    let echoed = json!({"generated_text": "Q? A.", "details": {"finish_reason": "length"}});
    let out = tgi_to_openai(&echoed, "Q?", "m", 0);
    assert_eq!(out["choices"][0]["message"]["content"], " A.");
    assert_eq!(out["choices"][0]["finish_reason"], "length");
    let jumpstart = json!([{"generation": "Hi"}]);
    assert_eq!(
        tgi_to_openai(&jumpstart, "", "m", 0)["choices"][0]["message"]["content"],
        "Hi"
    );
    for odd in [json!(null), json!([]), json!({"generated_text": 3})] {
        assert_eq!(
            tgi_to_openai(&odd, "", "m", 0)["choices"][0]["message"]["content"],
            ""
        );
    }
}

#[test]
fn a_whole_answer_replays_as_chunks() {
    let completion = json!({
        "id": "chatcmpl-1", "created": 5, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "f", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    });
    let sse = String::from_utf8(completion_to_sse(&completion, true)).unwrap();
    let events: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 5);
    assert_eq!(events[4], "data: [DONE]");
    let first: Value = serde_json::from_str(&events[0][6..]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let calls: Value = serde_json::from_str(&events[1][6..]).unwrap();
    assert_eq!(calls["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    let finish: Value = serde_json::from_str(&events[2][6..]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage: Value = serde_json::from_str(&events[3][6..]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 7);
}

#[test]
fn invocations_are_signed_for_sagemaker() {
    let d = deployment("sagemaker", "tgi-llama", None, KEYS);
    let b = body(
        Operation::Chat,
        json!({"model": "m", "messages": messages(), "stream": true}),
    );
    let req = Sagemaker
        .build_request(&call(Operation::Chat, &b, &d, "tgi-llama"))
        .unwrap();
    assert_eq!(req.path_and_query, "/endpoints/tgi-llama/invocations");
    assert_signed(
        &req,
        "runtime.sagemaker.us-west-2.amazonaws.com",
        &creds("us-west-2"),
        "sagemaker",
    );

    let chat = SagemakerChat
        .build_request(&call(Operation::Chat, &b, &d, "tgi-llama"))
        .unwrap();
    let sent: Value = serde_json::from_slice(&chat.body).unwrap();
    assert_eq!(sent["model"], "tgi-llama");
    assert!(sent.get("stream").is_none());
    assert_eq!(sent["messages"], messages());
}

#[test]
fn simulated_streams_replay_or_report_bad_answers() {
    let d = deployment("sagemaker", "tgi-llama", None, KEYS);
    let b = body(
        Operation::Chat,
        json!({"model": "m", "messages": messages(), "stream": true}),
    );
    let c = call(Operation::Chat, &b, &d, "tgi-llama");
    let mut stream = Sagemaker.stream_translator(&c);
    let mut out = BytesMut::new();
    for piece in TGI.as_bytes().chunks(7) {
        stream.feed(piece, &mut out);
    }
    assert!(out.is_empty());
    stream.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("Paris is the capital of France."));
    assert_eq!(text.matches("[DONE]").count(), 1);

    let mut stream = SagemakerChat.stream_translator(&c);
    let mut out = BytesMut::new();
    stream.feed(b"not json", &mut out);
    stream.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("\"code\":\"502\""));
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[test]
fn chat_answers_take_the_alias() {
    let d = deployment("sagemaker", "ep", None, KEYS);
    let b = body(
        Operation::Chat,
        json!({"model": "m", "messages": messages()}),
    );
    let answer = br#"{"id":"x","object":"chat.completion","model":"tgi","choices":[]}"#;
    let out = SagemakerChat
        .translate_response(
            &call(Operation::Chat, &b, &d, "ep"),
            Bytes::from_static(answer),
        )
        .unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["model"], "my-model");
    let err = Sagemaker.translate_error(
        &call(Operation::Chat, &b, &d, "ep"),
        424,
        include_bytes!("../../../../tests/fixtures/bedrock/sagemaker_model_error.json"),
    );
    assert_eq!(err.status, 424);
    assert!(err.message.starts_with(
        "litellm.APIError: APIError: SagemakerException - Received client error (400)"
    ));
}

#[test]
fn an_answer_over_the_buffer_bound_is_a_failure_and_is_dropped() {
    let mut stream = BufferedStream::new(false, Box::new(|bytes| chat_answer(bytes, "a")));
    let mut out = BytesMut::new();
    let read = vec![b' '; 1024 * 1024];
    for _ in 0..MAX_BUFFERED / read.len() {
        stream.feed(&read, &mut out);
    }
    assert!(stream.failure().is_none());
    assert_eq!(stream.buffered(), MAX_BUFFERED);
    stream.feed(b"{}", &mut out);
    assert_eq!(stream.buffered(), 0);
    let failure = stream.failure().unwrap();
    assert_eq!(failure.status, 502);
    assert_eq!(failure.message, "SageMaker answer larger than 64 MiB");
    stream.feed(b"{}", &mut out);
    stream.finish(&mut out);
    assert!(out.is_empty());
}
