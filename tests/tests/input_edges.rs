//! Input edges found in a probe (the hardening issue): each is refused with exit 2, the field
//! and the rule named in the user's language, and nothing changed; argument-parser errors honour
//! `--lang zh` and print one JSON error under `--json`.

use lingong_tests::init_chain;

#[test]
fn parser_errors_speak_the_users_language_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = lingong_tests::Node::at(dir.path().join("none"));
    let refused = node.fail(&["--lang", "zh", "post", "creat"]);
    assert_eq!(refused.status, 2);
    assert_eq!(refused.json["error"]["code"], "usage", "{:?}", refused.json);
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("命令用法错误"), "{message}");
    // In Chinese, the mistake itself, not clap's English: the command, with clap's suggestion.
    assert!(
        message.contains("没有 creat 这个命令；是否要用 create？"),
        "{message}"
    );
    for (args, said) in [
        (
            vec!["post", "list", "--lmit", "3"],
            "不认识的参数 --lmit；是否要用 --limit？",
        ),
        (
            vec!["post", "list", "--limit", "x"],
            "--limit 的值 \"x\" 无效：必须是数字",
        ),
        (vec!["post", "list", "--status"], "--status 后面需要一个值"),
        (
            vec!["complaint", "file", "--text", "t"],
            "缺少必填的参数：--kind",
        ),
        (
            vec!["post", "create", "--wage", "-5"],
            "负数请连着参数名写，如 --wage=-5",
        ),
        // The number and its flag as typed (clap itself names only `-3`).
        (
            vec![
                "complaint",
                "file",
                "--kind",
                "wage-arrears",
                "--amount",
                "-300",
            ],
            "不认识的参数 -300；负数请连着参数名写，如 --amount=-300",
        ),
    ] {
        let refused = node.fail(&[&["--lang", "zh"][..], &args].concat());
        assert_eq!(refused.status, 2, "{args:?}");
        let message = refused.json["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(said), "{args:?}: {message}");
        assert!(!message.is_ascii(), "{args:?}: {message}");
    }
    let out = node
        .command()
        .args(["post", "list", "--limit", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no JSON without --json");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--limit"));
}

#[test]
fn edges_of_names_titles_flags_and_birth_dates_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let before = village.snapshot();
    let fifty = vec!["older"; 50].join(",");
    let id = lingong_protocol::id_number::complete_id_number("52262219700101234");
    let impossible = lingong_protocol::id_number::complete_id_number("52262220301301123");
    for (field, args) in [
        (
            "title",
            vec![
                "post",
                "create",
                "--title",
                "急招\u{202E}工运搬",
                "--occupation",
                "装卸工",
                "--wage",
                "150",
                "--unit",
                "day",
                "--headcount",
                "2",
            ],
        ),
        (
            "name",
            vec![
                "worker",
                "register",
                "--name",
                "王\n秀英",
                "--id-number",
                id.as_str(),
                "--phone",
                "13800000000",
            ],
        ),
        (
            "flags",
            vec![
                "worker",
                "register",
                "--name",
                "王秀英",
                "--id-number",
                id.as_str(),
                "--phone",
                "13800000000",
                "--flags",
                fifty.as_str(),
            ],
        ),
        (
            "id_number",
            vec![
                "worker",
                "register",
                "--name",
                "王秀英",
                "--id-number",
                impossible.as_str(),
                "--phone",
                "13800000000",
            ],
        ),
    ] {
        let refused = village.fail(
            &["--lang", "zh"]
                .iter()
                .copied()
                .chain(args.iter().copied())
                .collect::<Vec<_>>(),
        );
        assert_eq!(refused.status, 2, "{field}: {}", refused.stderr);
        let message = refused.json["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.starts_with(field), "{field}: {message}");
    }
    assert_eq!(village.snapshot(), before, "nothing changed");
}
