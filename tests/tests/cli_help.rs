//! The operator's command line in Chinese (issues 14 and 18), with the real binary: `--help`
//! under `--lang zh` or `LANG=zh_CN.UTF-8` is Chinese on every page of the command tree
//! (headings, every command's about, every flag's line) and stays English under `--lang en`;
//! readable output under Chinese prints times as China Standard Time while `--json` keeps the
//! node's UTC RFC 3339.

use lingong_tests::{Node, certify};
use std::process::Output;

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The lines of a help page's section (`命令：`, `参数：`, `选项：`) up to the next blank line.
fn section<'a>(page: &'a str, heading: &str) -> Vec<&'a str> {
    page.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// The help text of an entry line (`  --region <REGION>  本站…`, `  init  创建…`): what follows
/// the first run of two or more spaces after the entry's own text.
fn help_of(line: &str) -> &str {
    let entry = line.trim_start();
    entry
        .find("  ")
        .map(|i| entry[i..].trim())
        .unwrap_or_default()
}

#[test]
fn help_is_chinese_under_lang_zh_or_a_chinese_lang_and_english_under_lang_en() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::at(dir.path().join("none"));

    let init = text(&node.run(&["--lang", "zh", "init", "--help"]));
    for said in [
        "创建本节点的密钥和配置",
        "用法：lingong init [选项] --name <NAME> --region <REGION>",
        "选项：",
        "本站服务的区划代码：省 2 位、市 4 位、县 6 位、乡镇 9 位、村（社区）12 位",
        "站点名称",
        "显示帮助",
    ] {
        assert!(init.contains(said), "{said}:\n{init}");
    }
    let region = init
        .lines()
        .find(|l| l.trim_start().starts_with("--region"))
        .expect("--region has a line");
    assert!(has_chinese(help_of(region)), "{region}");
    for english in [
        "Usage:",
        "Options:",
        "Print help",
        "[OPTIONS]",
        "division code",
    ] {
        assert!(!init.contains(english), "{english}:\n{init}");
    }

    // LANG alone, as a Chinese desktop or SSH session sets it.
    for args in [vec!["post", "--help"], vec!["post", "create", "--help"]] {
        let page = text(
            &node
                .command()
                .env("LANG", "zh_CN.UTF-8")
                .args(&args)
                .output()
                .expect("runs"),
        );
        assert!(page.contains("用法：lingong post"), "{args:?}:\n{page}");
        assert!(!page.contains("Usage:"), "{args:?}:\n{page}");
    }
    let post = text(
        &node
            .command()
            .env("LANG", "zh_CN.UTF-8")
            .args(["post", "--help"])
            .output()
            .expect("runs"),
    );
    assert!(post.contains("命令："), "{post}");
    assert!(post.contains("发布岗位"), "{post}");
    let create = text(
        &node
            .command()
            .env("LANG", "zh_CN.UTF-8")
            .args(["post", "create", "-h"])
            .output()
            .expect("runs"),
    );
    assert!(create.contains("计薪单位：day（日）"), "{create}");

    // `--lang` wins over LANG, both ways; without either, English.
    let english = text(
        &node
            .command()
            .env("LANG", "zh_CN.UTF-8")
            .args(["--lang", "en", "init", "--help"])
            .output()
            .expect("runs"),
    );
    for said in ["Usage: lingong init [OPTIONS]", "Options:", "Print help"] {
        assert!(english.contains(said), "{said}:\n{english}");
    }
    assert!(
        !has_chinese(english.replace("青岩镇零工驿站", "").as_str()),
        "{english}"
    );
    let plain = text(&node.run(&["init", "--help"]));
    assert!(plain.contains("Usage:"), "{plain}");
    let chinese = text(&node.run(&["init", "--help", "--lang=zh"]));
    assert!(chinese.contains("用法："), "{chinese}");

    // `help COMMAND` is the same page; `--version` is unchanged.
    let via_help = text(&node.run(&["--lang", "zh", "help", "init"]));
    assert_eq!(via_help.trim_end(), init.trim_end());
    let version = text(&node.run(&["--lang", "zh", "--version"]));
    assert!(version.starts_with("lingong "), "{version}");
}

#[test]
fn every_help_page_of_the_command_tree_is_chinese_under_lang_zh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::at(dir.path().join("none"));
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    let mut pages = 0;
    let mut problems = Vec::new();
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = vec!["--lang", "zh"];
        args.extend(path.iter().map(String::as_str));
        args.push("--help");
        let page = text(&node.run(&args));
        pages += 1;
        let name = format!("lingong {}", path.join(" "));
        if !page.contains("用法：") || !page.contains("选项：") {
            problems.push(format!("{name}: no Chinese headings"));
        }
        for english in [
            "Usage:",
            "Options:",
            "Arguments:",
            "Commands:",
            "Print ",
            "[OPTIONS]",
        ] {
            if page.contains(english) {
                problems.push(format!("{name}: {english:?} in its help"));
            }
        }
        if !has_chinese(page.lines().next().unwrap_or_default()) {
            problems.push(format!("{name}: its about is not Chinese"));
        }
        for heading in ["参数：", "选项："] {
            for line in section(&page, heading) {
                if !has_chinese(help_of(line)) {
                    problems.push(format!("{name}: no Chinese line for `{}`", line.trim()));
                }
            }
        }
        for line in section(&page, "命令：") {
            let sub = line.split_whitespace().next().unwrap_or_default();
            if !has_chinese(help_of(line)) {
                problems.push(format!("{name}: no Chinese about for `{sub}`"));
            }
            if sub != "help" {
                let mut next = path.clone();
                next.push(sub.to_string());
                pending.push(next);
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The root, 19 groups and commands of their own… a tree this size, not a page or two.
    assert!(pages > 80, "only {pages} help pages walked");
}

#[test]
fn readable_times_are_china_time_under_chinese_and_json_keeps_utc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let province = Node::init(dir.path(), "province", "贵州省", "52");
    certify(None, &province);
    let id = province.create_post("搬运工", None, &[]);
    let created = province.json(&["post", "show", &id])["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();
    assert!(created.ends_with('Z'), "{created}");
    let china = lingong_protocol::dates::cst_time(&created).expect("an RFC 3339 time");

    // A record's value (post show) and a table's cell (the review queue's waiting_since).
    for args in [
        vec!["post", "show", id.as_str()],
        vec!["post", "review", "--queue"],
    ] {
        let zh = text(&province.run(&[&["--lang", "zh"][..], &args].concat()));
        assert!(zh.contains(&china), "{args:?}: {china} not in\n{zh}");
        assert!(!zh.contains(&created), "{args:?}: {created} still in\n{zh}");
        let by_lang = text(
            &province
                .command()
                .env("LANG", "zh_CN.UTF-8")
                .args(&args)
                .output()
                .expect("runs"),
        );
        assert!(
            by_lang.contains(&china),
            "{args:?} under LANG=zh_CN.UTF-8:\n{by_lang}"
        );
        let en = text(&province.run(&args));
        assert!(en.contains(&created), "{args:?}: {created} not in\n{en}");
        assert!(!en.contains(&china), "{args:?}: {china} in\n{en}");
    }
    // Dates that are not times stay as they are (the post's expiry).
    let zh = text(&province.run(&["--lang", "zh", "post", "show", &id]));
    let expires = province.json(&["post", "show", &id])["expires"]
        .as_str()
        .expect("expires")
        .to_string();
    assert!(zh.contains(&format!("expires: {expires}")), "{zh}");
    // --json is the same whatever the language.
    let json = text(&province.run(&["--lang", "zh", "--json", "post", "show", &id]));
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON value");
    assert_eq!(value["created_at"], created.as_str());
}

#[test]
fn a_group_without_its_command_names_the_commands_it_has() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::at(dir.path().join("none"));
    // Without another argument clap shows the group's help (its about was all the message said),
    // with one it says a subcommand is missing: both name the group's commands, exit 2, `usage`.
    for args in [vec!["post"], vec!["post", "--lang", "zh"]] {
        let refused = node.fail(&[&["--lang", "zh"][..], &args].concat());
        assert_eq!(refused.status, 2, "{args:?}");
        assert_eq!(refused.json["error"]["code"], "usage", "{:?}", refused.json);
        let message = refused.json["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("lingong post 后面要写一个命令：create、list、show、update"),
            "{args:?}: {message}"
        );
    }
    let refused = node.fail(&["cert"]);
    assert_eq!(refused.status, 2);
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("`lingong cert` needs a command: request, issue, rotate, install"),
        "{message}"
    );
    assert!(
        refused.stderr.contains("needs a command"),
        "{}",
        refused.stderr
    );
    // A flag's value that happens to be a command's name is not taken for one.
    let refused = node.fail(&["--lang", "zh", "--home", "post", "cert"]);
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("lingong cert 后面要写一个命令"),
        "{message}"
    );
}
