//! Go `flag` parsing ([`goflag::FlagSet::parse`]) of any argv: one flag of every kind is
//! defined, the input is split at NUL bytes into arguments. No argv may panic; a successful
//! parse leaves the unparsed arguments as a suffix of the input, and every error has Go's
//! one-line shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<&str> = text.split('\0').collect();
    let mut seen = Vec::new();
    let mut fs = goflag::FlagSet::new("fuzz");
    fs.bool("b", false, "a bool");
    fs.string("s", "", "a string");
    fs.duration("d", 0, "a duration");
    fs.uint("u", 0, "a uint");
    fs.int("i", 0, "an int");
    fs.float("f", 0.0, "a float");
    fs.func("l", "a list", |v| {
        seen.push(v.to_string());
        if v.starts_with('!') {
            Err("rejected".to_string())
        } else {
            Ok(())
        }
    });
    match fs.parse(&args) {
        Ok(parsed) => {
            let rest = parsed.args();
            assert!(rest.len() <= args.len());
            assert_eq!(rest, &args[args.len() - rest.len()..]);
            let _ = (parsed.duration("d"), parsed.uint("u"), parsed.int("i"));
            let _ = (parsed.float("f"), parsed.bool("b"), parsed.str("s"));
            assert!(parsed.list("l").len() <= args.len());
        }
        Err(goflag::FlagError::Help) => {}
        Err(goflag::FlagError::Invalid(message)) => assert!(!message.is_empty()),
    }
    let _ = fs.usage();
    // The number parsers on their own, as any flag value reaches them.
    for arg in &args {
        let _ = goflag::parse_bool(arg);
        let _ = goflag::parse_uint(arg);
        let _ = goflag::parse_int(arg);
        let _ = goflag::parse_float(arg);
        let quoted = goflag::go_quote(arg);
        assert!(quoted.starts_with('"') && quoted.ends_with('"') && quoted.len() >= 2);
    }
});
