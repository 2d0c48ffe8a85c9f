//! Username/password login through /api/v1/session. A test binary of its own: it sets
//! environment variables, which must happen before any other thread runs.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
#![allow(unsafe_code)] // std::env::set_var, before any other thread runs

#[path = "it/common.rs"]
mod common;

use common::*;
use driftdeck::clients::argocd::AppQuery;
use driftdeck::config::InstanceConfig;

#[test]
fn username_password_login_and_renewal() {
    let demo_pw = {
        // The demo's admin password is derived from the seed the helpers use.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async { demo(1, 1, 1).await.password.clone() })
    };
    // SAFETY: single-threaded at this point; no other thread reads the environment.
    unsafe {
        std::env::set_var("DRIFTDECK_TEST_PASSWORD", &demo_pw);
        std::env::set_var("DRIFTDECK_TEST_PASSWORD_WRONG", "nope");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fleet = demo(10, 1, 1).await;
        assert_eq!(fleet.password, demo_pw);
        let cfg = InstanceConfig {
            name: "pw".into(),
            url: fleet.url(0),
            username: Some("admin".into()),
            password_env: Some("DRIFTDECK_TEST_PASSWORD".into()),
            ..Default::default()
        };
        let c = client(&cfg);
        assert_eq!(
            c.list_apps(&AppQuery::default(), None)
                .await
                .unwrap()
                .items
                .len(),
            10
        );
        // The session expires; a login source renews it by itself.
        fleet.instance(0).expire_tokens();
        assert_eq!(
            c.list_apps(&AppQuery::default(), None)
                .await
                .unwrap()
                .items
                .len(),
            10
        );
        // A wrong password is a sentence, not a panic.
        let bad = client(&InstanceConfig {
            password_env: Some("DRIFTDECK_TEST_PASSWORD_WRONG".into()),
            ..cfg.clone()
        });
        let e = bad.list_apps(&AppQuery::default(), None).await.unwrap_err();
        assert!(
            e.to_string().contains("Invalid username or password"),
            "{e}"
        );
        // An unset variable says which one.
        let unset = client(&InstanceConfig {
            password_env: Some("DRIFTDECK_TEST_PASSWORD_UNSET".into()),
            ..cfg
        });
        let e = unset
            .list_apps(&AppQuery::default(), None)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("DRIFTDECK_TEST_PASSWORD_UNSET"),
            "{e}"
        );
    });
}
